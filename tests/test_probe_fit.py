"""The probe (mgi.probe.fit) learns from training patients only: changing the test patients'
features and labels changes neither the chosen regularisation nor the fitted coefficients, and
only test patients are scored. Table 2 (mgi.probe.table) and its figure from the predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mgi.probe.fit import probe
from mgi.probe.table import COLUMNS, read_predictions, table2, write_table2

N = 60
CASES = [f"TCGA-AA-{k:04d}" for k in range(N)]


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(N)
    label = np.where(signal > 0, "pos", "neg")
    embeddings = {
        "informative": (
            CASES,
            np.c_[signal + 0.3 * rng.standard_normal(N), rng.standard_normal((N, 5))],
        ),
        "noise": (CASES, rng.standard_normal((N, 6))),
    }
    split = pd.DataFrame({"case_id": CASES, "split": ["train"] * 36 + ["val"] * 4 + ["test"] * 20})
    grade = np.array(["G2", "G3", "G4"] * 20)
    labels = pd.DataFrame({"case_id": CASES, "planted": label, "grade": grade})
    return embeddings, labels, split


def test_only_test_patients_are_scored_and_a_planted_signal_is_found(setup):
    embeddings, labels, split = setup
    out = probe(embeddings, labels, ["planted", "grade"], split, cs=np.logspace(-3, 2, 6))
    assert set(out.case_id) == set(split.case_id[split.split == "test"])
    assert (out.n_train == 40).all()  # train + val patients
    table = table2(out, n_resamples=300)
    assert list(table.columns) == COLUMNS
    row = table.set_index(["label", "features"])
    assert row.loc[("planted", "informative"), "auroc"] > 0.9
    assert row.loc[("planted", "informative"), "auroc_ci_low"] > 0.7
    assert (
        row.loc[("planted", "noise"), "auroc_ci_low"]
        < 0.5
        < row.loc[("planted", "noise"), "auroc_ci_high"]
    )
    assert row.loc[("grade", "noise"), "n_classes"] == 3


def test_test_patients_never_reach_training_or_model_selection(setup):
    """A probe that saw test patients while fitting or choosing C would change both here."""
    embeddings, labels, split = setup
    cs = np.logspace(-3, 2, 6)
    before = probe(embeddings, labels, ["planted"], split, cs=cs)
    test = split.split.eq("test").to_numpy()
    rng = np.random.default_rng(9)
    poisoned = {k: (c, x.copy()) for k, (c, x) in embeddings.items()}
    for _, x in poisoned.values():
        x[test] = 100 * rng.standard_normal(x[test].shape)  # features far off
    flipped = labels.copy()
    flipped.loc[test, "planted"] = np.where(labels.planted[test] == "pos", "neg", "pos")
    after = probe(poisoned, flipped, ["planted"], split, cs=cs)
    key = ["features", "C", "coef_digest", "n_train"]
    pd.testing.assert_frame_equal(before[key].drop_duplicates().reset_index(drop=True),
                                  after[key].drop_duplicates().reset_index(drop=True))  # fmt: skip
    assert not before.proba.equals(after.proba)  # the test patients themselves did change


def test_paired_difference_to_the_random_encoder(setup, tmp_path):
    embeddings, labels, split = setup
    named = {
        "mgi_pretrained": embeddings["informative"],
        "image_pretrained_random": embeddings["noise"],
    }
    preds = probe(named, labels, ["planted"], split, cs=np.logspace(-3, 2, 6))
    path = tmp_path / "predictions.csv"
    preds.to_csv(path, index=False)
    sources = tmp_path / "label_sources.tsv"
    pd.DataFrame(
        [{"label": "planted", "source": "demo", "file": "x", "status": "used", "reason": "",
          "n_patients": N, "n_classes": 2, "classes": "", "classes_used": '["neg", "pos"]'},
         {"label": "rare", "source": "demo", "file": "x", "status": "skipped",
          "reason": "fewer than 2 classes", "n_patients": 0, "n_classes": 0, "classes": "",
          "classes_used": "[]"}]
    ).to_csv(sources, sep="\t", index=False)  # fmt: skip
    table = write_table2([path], sources, tmp_path / "table2", slices="brain", n_resamples=300)
    row = table.set_index("features").loc["mgi_pretrained"]
    assert row["auroc_vs_image_pretrained_random_ci_low"] > 0
    assert row["source"] == "demo" and row["slices"] == "brain"
    assert "rare (fewer than 2 classes)" in (tmp_path / "table2.md").read_text()
    assert (tmp_path / "table2.json").is_file()
    # p from the same resamples, Holm over every label x feature set compared
    from tex_tables import compile_if_possible, parse_tabular

    from mgi.stats import holm

    assert row["p"] < 0.05 and row["p_holm"] >= row["p"]
    assert table.p_holm.to_numpy() == pytest.approx(holm(table.p.to_numpy()), nan_ok=True)
    ncols, rows = parse_tabular((tmp_path / "table2.tex").read_text())
    assert ncols == 6 and len(rows) == 1 + len(table)
    compile_if_possible(tmp_path / "table2.tex", tmp_path)
    from mgi.report import auroc_plot

    assert auroc_plot(tmp_path / "table2.csv", tmp_path / "fig.png").stat().st_size > 1000
    table.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)  # no label scorable: a figure
    assert auroc_plot(tmp_path / "empty.csv", tmp_path / "empty.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="tested twice"):
        read_predictions([path, path])


def test_folds_are_scored_apart_then_averaged():
    """Two folds, each ranking its own test patients perfectly but calibrated differently:
    per-fold AUROC is 1; ranking the pooled probabilities would not be."""
    rows = []
    for fold, shift in ((0, 0.0), (1, 0.5)):
        for i, y in enumerate(["a", "b"] * 5):
            p = shift + (0.3 if y == "b" else 0.1) + 0.01 * i
            rows.append({"label": "L", "features": "f", "fold": fold,
                         "case_id": f"TCGA-AA-{fold}{i:03d}", "y_true": y,
                         "y_pred": y, "classes": "a|b", "proba": f"{1 - p:.4f}|{p:.4f}",
                         "C": 1.0, "n_train": 10, "coef_digest": "x"})  # fmt: skip
    preds = pd.DataFrame(rows)
    table = table2(preds, n_resamples=200)
    assert table.auroc.iloc[0] == 1.0 and table.auroc_ci_low.iloc[0] == 1.0
    assert table.n_patients.iloc[0] == 20
    from sklearn.metrics import roc_auc_score

    pooled = roc_auc_score(preds.y_true == "b", preds.proba.str.split("|").str[1].astype(float))
    assert pooled < 0.9  # what pooling the folds' probabilities would have reported
