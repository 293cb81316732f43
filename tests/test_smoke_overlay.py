"""configs/smoke.yaml: the paper's whole DAG with 2 folds and 1 epoch per stage (a dry run)."""

from __future__ import annotations

import re

import pytest
import snakemake_fork
import yaml

from mgi.config import load

PARTS = ("Snakefile", "rules", "workflow", "report", "envs", "config.yaml", "configs")


def _jobs(repo, workdir, *configfiles) -> dict[str, int]:
    workdir.mkdir()
    for part in PARTS:
        (workdir / part).symlink_to(repo / part)
    run = snakemake_fork.run(workdir, "-n", "--configfile", *configfiles)
    assert run.returncode == 0, run.stderr[-3000:]
    table = re.findall(r"^(\w+)\s+(\d+)$", run.stdout, re.M)
    return {rule: int(n) for rule, n in table if rule != "total"}


@pytest.mark.slow
def test_smoke_overlay_walks_every_rule_of_the_papers_dag_on_two_folds(repo, tmp_path):
    paper = _jobs(repo, tmp_path / "paper", "configs/tcga-lgg.yaml")
    smoke = _jobs(repo, tmp_path / "smoke", "configs/tcga-lgg.yaml", "configs/smoke.yaml")
    assert set(smoke) == set(paper)  # every rule
    assert paper["pretrain_train"] == 5 * 4 and smoke["pretrain_train"] == 2 * 4  # 2 folds
    assert smoke["finetune_train"] == 2 * 10
    config = load([repo / "configs/tcga-lgg.yaml", repo / "configs/smoke.yaml"])
    assert config["pretrain"]["epochs"] == config["finetune"]["epochs"] == 1
    assert yaml.safe_load((repo / "configs/smoke.yaml").read_text())["split"] == {"folds": 2}
