"""envs/*.yaml: well-formed, and their pip section builds from where Snakemake runs it.

Snakemake copies a rule's env file to ``.snakemake/conda/<hash>.yaml`` and runs
``conda env create --file`` on the copy; conda writes the ``pip:`` list to a requirements file
beside it and runs ``pip install -U -r <file>`` with that folder as the working directory. A
relative path such as ``-e ..`` therefore points into ``.snakemake/``; the env files name the
project as ``${MGI_PIPELINE_ROOT}`` instead, which pip expands and the workflow sets at parse
time (rules/common.smk).
These tests replay that with ``pip install --dry-run`` (no network, nothing installed).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
ROOT_VAR = "MGI_PIPELINE_ROOT"
PROJECT = "mgi-pipeline"

# pip's own rule for ${VAR} in requirements files (pip._internal.req.req_file.ENV_VAR_RE)
PIP_ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
# a conda match spec as written in an env file: name, then an optional version (and build)
CONDA_SPEC = re.compile(
    r"^[a-z0-9][a-z0-9._-]*(\s*(==?|>=|<=|!=|>|<|~=)\s*[0-9A-Za-z.*_+!,<>=|-]+)?$"
)
# channels that are deprecated upstream or pull in Anaconda's defaults
UNWANTED_CHANNELS = {"pytorch", "nvidia", "defaults"}

needs_setuptools = pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None,
    reason="--no-build-isolation needs setuptools in this interpreter",
)


def _load(env_file: Path) -> dict:
    data = yaml.safe_load(env_file.read_text())
    assert isinstance(data, dict), f"{env_file.name}: not a mapping"
    return data


def _pip_section(data: dict) -> list[str]:
    sections = [d["pip"] for d in data["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1, "exactly one `- pip:` list"
    return sections[0]


def _path_lines(pip: list[str]) -> list[str]:
    """The pip lines that name a local project (the ones a working directory can break)."""
    return [
        line
        for line in pip
        if line.startswith(("-e", "--editable")) or "/" in line or line.startswith((".", "$"))
    ]


def _commented_pip_lines(env_file: Path) -> list[str]:
    """Pip lines kept as comments in the pip section (alternatives such as the CUDA extra)."""
    return [
        m.group(1).strip() for m in re.finditer(r"^\s*#\s*- (-e .*)$", env_file.read_text(), re.M)
    ]


def _snakemake_conda_dir(tmp_path: Path, env_file: Path) -> Path:
    """Lay out a workdir as Snakemake does: the env file copied to .snakemake/conda/<hash>.yaml."""
    conda_dir = tmp_path / "workdir" / ".snakemake" / "conda"
    conda_dir.mkdir(parents=True)
    shutil.copyfile(env_file, conda_dir / "0123456789abcdef0123456789abcdef_.yaml")
    return conda_dir


def _pip_dry_run(lines: list[str], cwd: Path, root: Path | None) -> subprocess.CompletedProcess:
    """Write ``lines`` as conda does (condaenv.*.requirements.txt in ``cwd``) and dry-run pip."""
    req = cwd / "condaenv.abc123.requirements.txt"
    req.write_text("\n".join(lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.pop(ROOT_VAR, None)
    if root is not None:
        env[ROOT_VAR] = str(root)
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "-r",
            req.name,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _resolves_to_project(proc: subprocess.CompletedProcess) -> bool:
    return proc.returncode == 0 and f"Would install {PROJECT}-" in proc.stdout


def test_there_are_env_files():
    assert {p.name for p in ENV_FILES} >= {"data.yaml", "torch.yaml"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_file_is_well_formed(env_file):
    data = _load(env_file)
    assert set(data) <= {"name", "channels", "dependencies", "variables"}
    assert "prefix" not in data and "name" not in data, "Snakemake chooses the prefix"

    channels = data["channels"]
    assert isinstance(channels, list) and all(isinstance(c, str) for c in channels)
    assert channels[0] == "conda-forge"
    assert "nodefaults" in channels
    assert not UNWANTED_CHANNELS & set(channels)
    assert len(set(channels)) == len(channels)

    deps = data["dependencies"]
    specs = [d for d in deps if isinstance(d, str)]
    assert all(CONDA_SPEC.match(s) for s in specs), [s for s in specs if not CONDA_SPEC.match(s)]
    names = [re.split(r"[\s=<>!~]", s, maxsplit=1)[0] for s in specs]
    assert len(set(names)) == len(names), "a package listed twice"
    assert "python" in names and "pip" in names
    assert next(s for s in specs if s.startswith("python")).startswith("python=3.")

    pip = _pip_section(data)
    assert pip and all(isinstance(line, str) for line in pip)
    for line in pip:
        if line not in _path_lines(pip):
            Requirement(line)  # a plain requirement: must parse as one
    editable = [line for line in pip if line.startswith("-e")]
    # the project, by its root variable, and without the CUDA extra by default
    assert editable == [f'-e "${{{ROOT_VAR}}}"']


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_no_relative_paths_and_only_pip_expandable_variables(env_file):
    pip = _pip_section(_load(env_file))
    for line in _path_lines(pip) + _commented_pip_lines(env_file):
        assert ".." not in line and not re.search(r"(^|\s|\")\.(/|\s|\"|$)", line), line
        assert "$" not in PIP_ENV_VAR.sub("", line), f"pip expands only ${{UPPER_CASE}}: {line}"
        assert {m["name"] for m in PIP_ENV_VAR.finditer(line)} <= {ROOT_VAR}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_torch_comes_from_conda_forge_not_pip(env_file):
    data = _load(env_file)
    pip_names = {
        Requirement(line).name.lower()
        for line in _pip_section(data)
        if line not in _path_lines(_pip_section(data))
    }
    assert not pip_names & {"torch", "torchvision", "pytorch"}


# conda-forge names of pyproject.toml's PyPI names, where they differ
CONDA_TO_PYPI = {"pytorch": "torch"}


def _conda_lower_bound(spec: str) -> str | None:
    """The least version a conda spec allows (``x=2.*`` -> 2, ``x>=1.4,<2`` -> 1.4)."""
    m = re.search(r"(?:>=|==|=)\s*([0-9][0-9A-Za-z.]*?)(?:\.?\*)?(?:[,\s]|$)", spec)
    return m.group(1) if m else None


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_conda_versions_meet_pyproject_so_pip_keeps_them(env_file):
    # pip installs the project with its dependencies: a conda package below pyproject.toml's
    # bound would be replaced by a PyPI build of it (for torch: a different CUDA build).
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {
        Requirement(r).name.lower(): Requirement(r).specifier for r in project["dependencies"]
    }
    checked = 0
    for spec in (d for d in _load(env_file)["dependencies"] if isinstance(d, str)):
        name = re.split(r"[\s=<>!~]", spec, maxsplit=1)[0]
        pypi = CONDA_TO_PYPI.get(name, name)
        if pypi not in wanted or not wanted[pypi]:
            continue
        low = _conda_lower_bound(spec)
        assert low is not None, f"{spec}: give it pyproject.toml's lower bound ({wanted[pypi]})"
        assert wanted[pypi].contains(low, prereleases=True), f"{spec} allows below {wanted[pypi]}"
        checked += 1
    assert checked


@needs_setuptools
@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_pip_section_installs_the_project_from_snakemakes_conda_folder(tmp_path, env_file):
    conda_dir = _snakemake_conda_dir(tmp_path, env_file)
    lines = _path_lines(_pip_section(_load(next(conda_dir.glob("*.yaml")))))
    proc = _pip_dry_run(lines, conda_dir, root=REPO)
    assert _resolves_to_project(proc), proc.stdout + proc.stderr
    assert f"file://{REPO.as_posix()}" in proc.stdout  # the checkout, not a copy elsewhere


def test_torch_env_builds_the_cuda_kernel_with_the_script_not_through_pip():
    """mamba-ssm must compile against the env's own torch (--no-build-isolation): conda's pip
    section cannot do that, so the file names envs/cuda-extras.sh and lists no mamba-ssm line."""
    text = (REPO / "envs" / "torch.yaml").read_text()
    assert _commented_pip_lines(REPO / "envs" / "torch.yaml") == []
    assert "envs/cuda-extras.sh" in text and "[cuda]" not in text
    assert (REPO / "envs" / "cuda-extras.sh").stat().st_mode & 0o111  # executable


@needs_setuptools
@pytest.mark.parametrize(
    ("env_file", "line"),
    [(f, line) for f in ENV_FILES for line in _commented_pip_lines(f)],
    ids=lambda x: x.name if isinstance(x, Path) else x,
)
def test_commented_alternatives_resolve_too(tmp_path, env_file, line):
    conda_dir = _snakemake_conda_dir(tmp_path, env_file)
    proc = _pip_dry_run([line], conda_dir, root=REPO)
    assert _resolves_to_project(proc), proc.stdout + proc.stderr


@needs_setuptools
def test_a_root_with_spaces_resolves(tmp_path):
    root = tmp_path / "my checkout"
    (root / "src" / "mgi").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, root / name)
    (root / "src" / "mgi" / "__init__.py").write_text("")
    conda_dir = _snakemake_conda_dir(tmp_path, ENV_FILES[0])
    lines = _path_lines(_pip_section(_load(ENV_FILES[0])))
    assert _resolves_to_project(_pip_dry_run(lines, conda_dir, root=root))


@needs_setuptools
def test_the_old_relative_path_does_not_reach_the_project(tmp_path):
    # why the variable is needed: from .snakemake/conda/, `..` is .snakemake/
    conda_dir = _snakemake_conda_dir(tmp_path, ENV_FILES[0])
    proc = _pip_dry_run(["-e .."], conda_dir, root=REPO)
    assert not _resolves_to_project(proc)
    assert "workdir/.snakemake" in proc.stdout + proc.stderr


def test_without_the_variable_pip_fails_loudly(tmp_path):
    conda_dir = _snakemake_conda_dir(tmp_path, ENV_FILES[0])
    proc = _pip_dry_run(_path_lines(_pip_section(_load(ENV_FILES[0]))), conda_dir, root=None)
    assert proc.returncode != 0
    assert f"${{{ROOT_VAR}}}" in proc.stdout + proc.stderr


def test_the_workflow_sets_the_root_variable():
    # set at parse time (Snakefile or an included rules/*.smk), before conda envs are created
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    pattern = re.compile(
        rf"os\.environ(\[[\"']{ROOT_VAR}[\"']\]\s*=|\.update\(\s*{ROOT_VAR}\s*=)"
        r".*workflow\.basedir"
    )
    hits = [p.name for p in sources if pattern.search(p.read_text())]
    assert hits, f'the workflow must set os.environ["{ROOT_VAR}"] from workflow.basedir'
