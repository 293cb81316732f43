"""Cross-validation: folds pooled over all patients (mgi.cv), Table 1 with cv columns, and a
tiny cv workflow run proving that no test patient of a fold reaches that fold's gene filters,
z-scores, pre-training, fine-tuning or validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import mgi.config
from mgi.cv import fold_spread, pool_run, stack_folds

PARTS = ("Snakefile", "rules", "workflow", "report", "envs", "config.yaml")


def _per_patient(path: Path, cases: list[str], dice: list[float]) -> Path:
    pd.DataFrame(
        {
            "case_id": cases,
            "dice": dice,
            "dice_slice": dice,
            "dice_slice_all": dice,
            "hd95": [1.0] * len(cases),
            "n_slices": [4] * len(cases),
            "n_tumour_slices": [2] * len(cases),
        }
    ).to_csv(path, index=False)
    return path


def test_pool_joins_folds_and_reports_their_spread(tmp_path):
    a = _per_patient(tmp_path / "a.csv", ["P1", "P2"], [0.8, 0.6])
    b = _per_patient(tmp_path / "b.csv", ["P3", "P4", "P5"], [0.4, 0.5, 0.3])
    summary = pool_run(
        [a, b], per_patient_out=tmp_path / "pp.csv", summary_out=tmp_path / "s.json", run="x",
        n_resamples=200,
    )  # fmt: skip
    m = summary["metrics"]
    assert m["n_test_patients"] == 5 and m["n_folds"] == 2
    assert m["dice"] == pytest.approx(np.mean([0.8, 0.6, 0.4, 0.5, 0.3]))  # each patient once
    assert m["dice_fold_sd"] == pytest.approx(np.std([0.7, 0.4], ddof=1))
    assert m["dice_ci_low"] < m["dice"] < m["dice_ci_high"]
    pooled = pd.read_csv(tmp_path / "pp.csv")
    assert pooled.fold.tolist() == [0, 0, 1, 1, 1]
    assert json.loads((tmp_path / "s.json").read_text())["metrics"]["n_folds"] == 2
    assert np.isnan(fold_spread(pooled[pooled.fold == 0]))


def test_a_patient_in_two_folds_is_an_error(tmp_path):
    a = _per_patient(tmp_path / "a.csv", ["P1", "P2"], [0.8, 0.6])
    b = _per_patient(tmp_path / "b.csv", ["P2", "P3"], [0.4, 0.5])
    with pytest.raises(ValueError, match="more than one fold"):
        stack_folds([a, b])


def test_table1_carries_the_fold_columns(tmp_path):
    from mgi.tables import TABLE1_RUNS, table1

    summaries, per_patient = {}, {}
    for i, run in enumerate(TABLE1_RUNS):
        folds = [
            _per_patient(tmp_path / f"{run}{k}.csv", [f"P{k}{j}" for j in range(3)],
                         [0.5 + 0.01 * i + 0.05 * k + 0.01 * j for j in range(3)])
            for k in range(3)
        ]  # fmt: skip
        per_patient[run], summaries[run] = tmp_path / f"{run}.csv", tmp_path / f"{run}.json"
        pool_run(folds, per_patient_out=per_patient[run], summary_out=summaries[run], run=run,
                 n_resamples=100)  # fmt: skip
    table = table1(summaries, tmp_path / "table1", per_patient=per_patient,
                   bootstrap={"n_resamples": 100})  # fmt: skip
    assert (table.n_folds == 3).all() and (table.n_test_patients == 9).all()
    assert table.dice_fold_sd.gt(0).all()
    mgi_row = table.set_index("method").loc["mgi"]
    assert mgi_row["dice_vs_image_only"] == pytest.approx(0.01)  # paired, over all 9 patients
    assert "every patient is a test patient once" in (tmp_path / "table1.md").read_text()


# The tiny cv run: 12 patients, 2 folds (6 test, 2 val, 4 train each), 1 epoch, tiny models.
TINY = {
    "demo": {"patients": 12, "genes": 1000, "slices": 6, "size": 32},
    "imaging": {"size": 32},
    "split": {"scheme": "cv", "folds": 2, "val_fraction": 0.25},
    "expression": {"top_k_variance": 200, "workers": 1},
    "model": {
        "image": {"depth": 1, "patch_size": 8},
        "genes": {"patch_size": 16},
        "fusion": {"depth": 1, "dim": 32, "mlp_dim": 32, "gene_tokens": 4},
    },
    "pretrain": {"epochs": 1, "batch_size": 4, "device": "cpu"},
    "finetune": {"epochs": 1, "batch_size": 8, "select": "val_dice", "device": "cpu"},
    "evaluate": {"bootstrap": 100, "nifti_runs": []},
    "probe": {"min_per_class": 2, "inner_folds": 2},
}


@pytest.fixture(scope="module")
def cv_run(repo, tmp_path_factory) -> Path:
    """The workflow, cv with 2 folds, run on a tiny demo up to mgi's pooled evaluation and
    Table 2."""
    work = tmp_path_factory.mktemp("cv")
    for part in PARTS:
        (work / part).symlink_to(repo / part)
    config = mgi.config.merge(mgi.config.load([], workdir=repo), TINY)
    (work / "cv.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "results/evaluate/mgi/summary.json",
           "results/tables/table2.csv", "--cores", "2", "--configfile", "cv.yaml"]  # fmt: skip
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return work


def _split(work: Path, k: int) -> dict[str, set[str]]:
    table = pd.read_csv(work / f"results/cohort/fold{k}/split.tsv", sep="\t")
    return {s: set(table.case_id[table.split == s]) for s in ("train", "val", "test")}


@pytest.mark.slow
def test_no_test_patient_reaches_its_folds_training(cv_run):
    from mgi.expression import read_matrix, read_zscore

    work, paired = cv_run, set(pd.read_csv(cv_run / "results/cohort/paired.tsv", sep="\t").case_id)
    tested = []
    for k in range(2):
        split, fold = _split(work, k), work / f"results/cv/fold{k}"
        tested += sorted(split["test"])
        assert split["train"] | split["val"] | split["test"] == paired
        assert len(split["val"]) == 2 and not split["val"] & split["test"]
        # gene filters and z-scores: statistics of the fold's training patients, exactly
        matrix = read_matrix(fold / "expression/matrix.parquet")
        mean, _ = read_zscore(fold / "expression/zscore.parquet")
        train_mean = matrix.loc[sorted(split["train"])].mean()
        assert np.allclose(mean.reindex(matrix.columns), train_mean, atol=1e-4)
        others = matrix.loc[sorted(split["train"] | split["test"])].mean()
        assert not np.allclose(mean.reindex(matrix.columns), others, atol=1e-4)
        # pre-training and fine-tuning: who trained, who chose the epoch
        pre = torch.load(fold / "pretrain/mamba/model.pt", weights_only=False)
        assert set(pre["cases"]["train"]) == split["train"]
        ft = torch.load(fold / "finetune/mgi/model.pt", weights_only=False)
        assert set(ft["cases"]["train"]) == split["train"]
        assert set(ft["cases"]["val"]) == split["val"]
        # each fold's models score that fold's test patients only
        scored = pd.read_csv(fold / "evaluate/mgi/per_patient.csv").case_id
        assert set(scored) == split["test"]
    assert sorted(tested) == sorted(paired)  # every patient tested exactly once
    pooled = pd.read_csv(work / "results/evaluate/mgi/per_patient.csv")
    assert sorted(pooled.case_id) == sorted(paired)
    metrics = json.loads((work / "results/evaluate/mgi/summary.json").read_text())["metrics"]
    assert metrics["n_folds"] == 2 and metrics["n_test_patients"] == len(paired)


@pytest.mark.slow
def test_each_folds_probe_reads_its_own_encoders_and_scores_its_test_patients(cv_run):
    from mgi.probe.embed import read_embeddings

    work, tested = cv_run, []
    for k in range(2):
        split, probe = _split(cv_run, k), work / f"results/cv/fold{k}/probe"
        preds = pd.read_csv(probe / "predictions.csv")
        assert set(preds.case_id) <= split["test"]
        assert (preds.n_train <= len(split["train"] | split["val"])).all()
        tested += sorted(set(preds.case_id))
    # the pre-trained ViT is each fold's own; the untrained one is the same initialisation
    emb = {
        (k, f): read_embeddings(work / f"results/cv/fold{k}/probe/{f}/embeddings.parquet")[1]
        for k in range(2)
        for f in ("mgi_pretrained", "image_pretrained_random")
    }
    assert not np.allclose(emb[0, "mgi_pretrained"], emb[1, "mgi_pretrained"])
    assert np.array_equal(emb[0, "image_pretrained_random"], emb[1, "image_pretrained_random"])
    table = pd.read_csv(work / "results/tables/table2.csv")
    assert (table.n_patients <= len(set(tested))).all() and len(table)
