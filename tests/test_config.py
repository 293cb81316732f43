"""Configs: validated against the schema (bad keys stop with a clear message); the effective
config of a run is the one Snakemake merges, and the paper's run holds nothing of the demo."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

import mgi.config
from mgi.config import ConfigError


@pytest.fixture()
def config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


def _validate(repo, cfg):
    return mgi.config.validate(cfg)


@pytest.mark.parametrize("name", ["config.yaml", "configs/tcga-lgg.yaml"])
def test_configs_are_valid_and_every_key_is_commented(repo, name):
    _validate(repo, yaml.safe_load((repo / name).read_text()))
    lines = (repo / name).read_text().splitlines()
    for before, line in zip([""] + lines, lines, strict=False):
        if line.strip() and not line.lstrip().startswith("#"):
            commented = "#" in line or before.lstrip().startswith("#")
            assert commented, f"{name}: key without a comment: {line!r}"


def test_workflow_schema_link_is_the_package_schema(repo):
    assert (repo / "workflow/schemas/config.schema.yaml").resolve() == mgi.config.SCHEMA


def test_other_configs_are_valid(repo):
    for path in (repo / "configs").glob("*.yaml"):
        _validate(repo, yaml.safe_load(path.read_text()))


def test_defaults_are_filled_in(repo):
    cfg = _validate(repo, {"source": "demo"})
    assert cfg["demo"]["patients"] == 24
    assert cfg["split"]["test_fraction"] == 0.25
    assert cfg["gdc"]["api_url"] == "https://api.gdc.cancer.gov"


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda c: c["demo"].update(pateints=3), "pateints"),
        (lambda c: c.update(source="s3"), "s3"),
        (lambda c: c["split"].update(test_fraction=1.5), "1.5"),
        (lambda c: c["demo"].update(genes="many"), "many"),
        (lambda c: c["imaging"].update(format="dicom"), "dicom"),
        (lambda c: c.update(spilt={}), "spilt"),
        (lambda c: c["split"].update(scheme="loo"), "loo"),
        (lambda c: c["split"].update(scheme="cv", folds=1), "split.folds"),
        (lambda c: c["finetune"].update(select="val_dice"), "split.val_fraction > 0"),
    ],
)
def test_bad_config_names_the_key(repo, config, edit, needle):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(ConfigError, match=needle):
        _validate(repo, bad)


def _snakemake(repo, *args):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_dry_run_builds_the_dag(repo):
    run = _snakemake(repo, "-n", "--forceall", "--quiet", "rules")  # whatever results exist
    assert run.returncode == 0, run.stderr
    assert "demo_synthesize" in run.stdout + run.stderr


def test_snakemake_stops_on_a_bad_config(repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("demo:\n  patients: many\n")
    run = _snakemake(repo, "-n", "--configfile", str(bad))
    assert run.returncode != 0
    assert "patients" in run.stderr + run.stdout and "many" in run.stderr + run.stdout


def _leaves(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*prefix, key))
    else:
        yield prefix, tree


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _snakemake_config(repo, workdir, *configfiles):
    """The config Snakemake itself runs with: `snakemake [--configfile F ...] results/config.yaml`
    in a copy of the workflow (the rule config_record writes the effective config there)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for part in ("Snakefile", "rules", "workflow", "report", "envs", "config.yaml"):
        (workdir / part).symlink_to(repo / part)
    args = ["results/config.yaml"]
    if configfiles:
        args += ["--configfile", *map(str, configfiles)]
    run = _snakemake(workdir, *args)
    assert run.returncode == 0, run.stderr[-3000:]
    return yaml.safe_load((workdir / "results/config.yaml").read_text())


@pytest.fixture(scope="module")
def paper_run(repo, tmp_path_factory):
    """(effective config of `--configfile configs/tcga-lgg.yaml`, of the demo run)."""
    tmp = tmp_path_factory.mktemp("effective")
    paper = _snakemake_config(repo, tmp / "paper", repo / "configs/tcga-lgg.yaml")
    demo = _snakemake_config(repo, tmp / "demo")
    return paper, demo


def test_paper_run_holds_no_demo_value(repo, paper_run):
    """Merged as Snakemake merges (the Snakefile's configfile:, then each --configfile): the
    paper's run is configs/tcga-lgg.yaml alone, and no value the demo sets for itself (a
    config.yaml value that differs from the schema's default) reaches it unless the paper's file
    says so itself."""
    paper, demo = paper_run
    demo_file = yaml.safe_load((repo / "config.yaml").read_text())
    paper_file = yaml.safe_load((repo / "configs/tcga-lgg.yaml").read_text())
    assert paper == mgi.config.validate(paper_file)
    assert demo == mgi.config.validate(demo_file)
    defaults = mgi.config.defaults()
    leaks = [
        (".".join(path), value)
        for path, value in _leaves(demo_file)
        if value != _get(defaults, path)  # the demo's own choice
        and _get(paper, path) == value
        and _get(paper_file, path) != value  # ... not also the paper file's
    ]
    assert not leaks, f"demo values in the paper's run: {leaks}"
    differ = [p for p, v in _leaves(demo_file) if _get(paper, p) != v]
    assert len(differ) >= 30, "the demo and the paper's run should differ in their sizes"


def test_paper_run_is_paper_scale(paper_run):
    paper, _ = paper_run
    image, genes = paper["model"]["image"], paper["model"]["genes"]
    assert image["preset"] in ("small", "base") and image["depth"] in (None, 12)
    assert image["patch_size"] == 16 and paper["imaging"]["size"] == 256
    n_genes = paper["expression"]["top_k_variance"]
    assert n_genes is not None, "the gene count must be fixed for the planned memory"
    assert n_genes // genes["patch_size"] >= 5000, "Mamba must read >= 5,000 gene tokens"
    assert genes["layers"] >= 2 and genes["d_model"] >= 128
    assert paper["finetune"]["epochs"] >= 40
    assert "mamba" in paper["pretrain"]["gene_encoders"]


def test_mgi_config_show_prints_the_effective_config(repo, paper_run):
    paper, demo = paper_run
    for args, expected in (
        (["--configfile", str(repo / "configs/tcga-lgg.yaml")], paper),
        ([], demo),
    ):
        shown = subprocess.run(
            [sys.executable, "-m", "mgi.cli", "config", "show", "--workdir", str(repo), *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert yaml.safe_load(shown.stdout) == expected


def test_configfiles_layer_in_order(repo, tmp_path):
    """Several --configfile merge in order, nested keys one by one (the SLURM test's layering)."""
    small = tmp_path / "small.yaml"
    small.write_text("finetune:\n  epochs: 3\ndemo:\n  patients: 9\n")
    got = mgi.config.load([repo / "config.yaml", small])
    demo = mgi.config.load([], workdir=repo)
    assert got["finetune"]["epochs"] == 3 and got["demo"]["patients"] == 9
    assert got["finetune"]["lr"] == demo["finetune"]["lr"]
    assert got["demo"]["genes"] == demo["demo"]["genes"]


@pytest.mark.parametrize("command, section", [("pretrain", "pretrain"), ("finetune", "finetune")])
def test_cli_defaults_come_from_the_schema(command, section):
    from mgi.cli import build_parser

    required = ["--store", "s", "--matrix", "m", "--zscore", "z", "--split", "t", "--out-dir", "o"]
    if command == "finetune":
        required += ["--run", "unet"]
    args = vars(build_parser().parse_args([command, *required]))
    defaults = mgi.config.defaults(section)
    for key in ("epochs", "lr", "weight_decay", "warmup_epochs", "batch_size"):
        assert args[key] == defaults[key], f"mgi {command} --{key}"
    assert args["seed"] == defaults["seeds"][0]  # one job trains one of the seeds
    assert json.loads(args["model_json"]) == mgi.config.defaults("model")


@pytest.mark.parametrize(
    "edit",
    [
        {"imaging": {"source": "brats_tcga_lgg", "format": "nifti"}},  # no brats.zip
        {"imaging": {"source": "kaggle", "format": "nifti"}},
        {"finetune": {"gene_encoder": "transformer"}, "pretrain": {"gene_encoders": ["mlp"]}},
        {"source": "gdc", "imaging": {"sheet": None, "root": None}},
    ],
)
def test_config_show_and_the_workflow_agree_on_bad_configs(repo, tmp_path, capfd, edit):
    """One function (mgi.config.check) makes the cross-key checks for both: the line
    `mgi config show` stops with is the one Snakemake stops with."""
    from mgi.cli import main

    bad = mgi.config.merge(yaml.safe_load((repo / "config.yaml").read_text()), edit)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert main(["config", "show", "--configfile", str(tmp_path / "bad.yaml")]) == 1
    err = capfd.readouterr().err
    assert err.startswith("mgi: error: config: ") and err.count("\n") == 1
    import snakemake_fork

    run = snakemake_fork.run(
        tmp_path, "-n", "-s", str(repo / "Snakefile"), "--configfile", str(tmp_path / "bad.yaml")
    )
    assert run.returncode != 0
    assert err.removeprefix("mgi: error: ").strip() in run.stdout + run.stderr
