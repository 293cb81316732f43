"""The shipped profiles and rule placement: what runs where, without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

TRAINING = {"pretrain_train", "finetune_train"}
GPU = TRAINING | {"preflight"}  # the preflight measures where the training jobs run
# Rules that run where Snakemake runs: the GDC API and Kaggle (compute nodes often have no
# internet), and the tiny table, figure and record rules.
LOCAL = {
    "gdc_download",
    "gdc_cases",
    "gdc_markers",
    "imaging_fetch",
    "config_record",
    "evaluate_table1",
    "evaluate_ablation",
    "evaluate_retrieval",
    "report_training_curves",
    "report_pretrain_curves",
    "report_dice_boxplot",
    "report_overlays",
    "report_qc",
    "probe_labels",
    "probe_table2",
    "report_table2",
    "report_fold_boxplot",
    "external_evaluate",
    "external_table",
}


@pytest.fixture(scope="module")
def gdc_workflow(repo, tmp_path_factory):
    """The parsed workflow of a GDC run (Snakemake's API, as `snakemake` parses it)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
    )

    work = tmp_path_factory.mktemp("gdc-workflow")
    (work / "gdc.yaml").write_text("source: gdc\nimaging:\n  source: kaggle\n  format: kaggle_3m\n")
    with SnakemakeApi(OutputSettings()) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[work / "gdc.yaml"]),
            storage_settings=StorageSettings(),
            snakefile=repo / "Snakefile",
            workdir=work,
        )
        yield wf._workflow


def test_download_and_tiny_rules_are_local(gdc_workflow):
    assert set(gdc_workflow._localrules) == LOCAL


def test_training_rules_ask_for_one_gpu(gdc_workflow):
    for rule in gdc_workflow.rules:
        assert (rule.resources.get("gpu") == 1) == (rule.name in GPU), rule.name


def test_matrix_layout_is_a_param_and_the_h5ad_export_is_opt_in(gdc_workflow):
    """A new matrix layout reruns the build (old matrices are rebuilt, never misread)."""
    from mgi.expression.matrix_io import LAYOUT

    build = gdc_workflow.get_rule("expression_build")
    assert dict(build.params.items())["layout"] == LAYOUT
    export = gdc_workflow.get_rule("expression_export")
    # the schema's split.scheme is cv: one matrix (and export) per fold
    assert list(export.output) == ["results/cv/fold{fold,[0-9]+}/expression/matrix.h5ad"]
    default = gdc_workflow.get_rule(gdc_workflow.default_target)
    assert not any(str(f).endswith(".h5ad") for f in default.input)


def _profile(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / "profiles" / name / "profile.yaml").read_text())


def test_slurm_profile_names_no_partition_and_asks_for_an_early_signal(repo):
    profile = _profile(repo, "slurm")
    assert "slurm_partition" not in profile.get("default-resources", {})
    for rule, resources in profile["set-resources"].items():
        assert "slurm_partition" not in resources, rule
    for rule in TRAINING:
        assert "--signal=TERM@300" in profile["set-resources"][rule]["slurm_extra"]


def test_local_profile_runs_one_training_job_per_gpu(repo):
    profile = _profile(repo, "local")
    assert profile["resources"] == {"gpu": 1} or profile["resources"] == ["gpu=1"]
