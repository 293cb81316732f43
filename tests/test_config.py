"""config.yaml is validated against the schema: bad keys and types stop with a clear message."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCHEMA = "workflow/schemas/config.schema.yaml"


@pytest.fixture()
def config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


def _validate(repo, cfg):
    validate(cfg, str(repo / SCHEMA), set_default=True)
    return cfg


def test_default_config_is_valid_and_every_key_is_commented(repo, config):
    _validate(repo, config)
    lines = (repo / "config.yaml").read_text().splitlines()
    for before, line in zip([""] + lines, lines, strict=False):
        if line.strip() and not line.lstrip().startswith("#"):
            commented = "#" in line or before.lstrip().startswith("#")
            assert commented, f"config.yaml: key without a comment: {line!r}"


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
    ],
)
def test_bad_config_names_the_key(repo, config, edit, needle):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(WorkflowError, match=needle):
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
