"""Evaluation of one run on a tiny real-format store: per-patient CSV, summary, NIfTI write-back."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mgi import evaluate, metrics


@pytest.fixture(scope="module")
def store_and_split(tiny_demo, tmp_path_factory):
    """A slice store of the tiny demo at native size (32) and a split with 3 test patients."""
    from mgi.imaging import SliceOptions, SliceStore, build_store

    out = tmp_path_factory.mktemp("eval")
    build_store("nifti", tiny_demo / "imaging" / "sheet.tsv", out / "store", SliceOptions(size=32))
    store = SliceStore(out / "store")
    cases = store.case_ids
    split = pd.DataFrame(
        {"case_id": cases, "split": ["test" if i % 2 else "train" for i in range(len(cases))]}
    )
    split["fold"] = -1
    split.to_csv(out / "split.tsv", sep="\t", index=False)
    return store, out / "split.tsv", out


def _predictions(store, split, path, *, shift: int = 0):
    rows = store.rows(evaluate.read_test_cases(split))
    prob = np.roll(np.asarray(store.masks[rows]), shift, axis=2).astype(np.float16)
    np.savez(path, rows=rows, prob=prob)
    return rows, prob


def test_perfect_prediction_scores_one(store_and_split):
    store, split, out = store_and_split
    _predictions(store, split, out / "perfect.npz")
    summary = evaluate.evaluate_run(
        out / "perfect.npz", store.path, split, per_patient_out=out / "pp.csv",
        summary_out=out / "summary.json", run="mgi", n_resamples=100, seed=0, config={"a": 1},
    )  # fmt: skip
    table = pd.read_csv(out / "pp.csv")
    assert len(table) == 3 and set(table.case_id) == set(evaluate.read_test_cases(split))
    np.testing.assert_allclose(table[["dice", "dice_slice_all"]].to_numpy(), 1.0)
    assert (table.hd95 == 0).all()
    saved = json.loads((out / "summary.json").read_text())
    assert saved["metrics"]["dice"] == 1.0 == summary["metrics"]["dice"]
    assert saved["provenance"]["config_hash"] and saved["provenance"]["seed"] == 0
    assert saved["metrics"]["n_test_patients"] == 3


def test_per_patient_matches_metrics(store_and_split):
    store, split, out = store_and_split
    rows, prob = _predictions(store, split, out / "shifted.npz", shift=2)
    evaluate.evaluate_run(
        out / "shifted.npz", store.path, split, per_patient_out=out / "pp2.csv",
        summary_out=out / "s2.json", run="unet", n_resamples=100,
    )  # fmt: skip
    table = pd.read_csv(out / "pp2.csv").set_index("case_id")
    case = table.index[0]
    sel = store.index["case_id"].to_numpy()[rows] == case
    expect = metrics.patient_metrics(prob[sel] >= 0.5, np.asarray(store.masks[rows[sel]]))
    assert table.loc[case, "dice"] == pytest.approx(expect["dice"], rel=1e-5)
    assert table.loc[case, "hd95"] == pytest.approx(expect["hd95"], rel=1e-5)
    assert 0 < table["dice"].mean() < 1


def test_bad_predictions_raise(store_and_split):
    store, split, out = store_and_split
    rows, prob = _predictions(store, split, out / "ok.npz")
    np.savez(out / "few.npz", rows=rows[:-1], prob=prob[:-1])
    with pytest.raises(ValueError, match="few.npz.*test"):
        evaluate.load_predictions(out / "few.npz", store, evaluate.read_test_cases(split))
    np.savez(out / "shape.npz", rows=rows, prob=prob[:, :16])
    with pytest.raises(ValueError, match="shape.npz"):
        evaluate.load_predictions(out / "shape.npz", store, evaluate.read_test_cases(split))
    np.savez(out / "nan.npz", rows=rows, prob=np.full_like(prob, np.nan))
    with pytest.raises(ValueError, match="finite"):
        evaluate.load_predictions(out / "nan.npz", store, evaluate.read_test_cases(split))
    with pytest.raises(FileNotFoundError):
        evaluate.load_predictions(out / "absent.npz", store, evaluate.read_test_cases(split))
    assert not (out / "never.csv").exists()


def test_write_back_round_trips_masks(store_and_split, tiny_demo):
    store, split, out = store_and_split
    _predictions(store, split, out / "perfect.npz")
    folder = evaluate.write_back(out / "perfect.npz", store.path, split, out / "nifti")
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t").set_index("case_id")
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(f"{c}.nii.gz" for c in evaluate.read_test_cases(split))
    case = written[0].removesuffix(".nii.gz")
    ref = nib.load(tiny_demo / "imaging" / sheet.loc[case, "mask"])
    pred = nib.load(folder / written[0])
    np.testing.assert_allclose(pred.affine, ref.affine)
    np.testing.assert_array_equal(np.asarray(pred.dataobj), np.asarray(ref.dataobj) > 0)


def test_figures(store_and_split):
    from mgi import report

    store, split, out = store_and_split
    _predictions(store, split, out / "shifted.npz", shift=2)
    evaluate.evaluate_run(
        out / "shifted.npz", store.path, split, per_patient_out=out / "pp3.csv",
        summary_out=out / "s3.json", run="mgi", n_resamples=50,
    )  # fmt: skip
    picks = report.pick_patients(pd.read_csv(out / "pp3.csv"))
    table = pd.read_csv(out / "pp3.csv").set_index("case_id")["dice"]
    assert table[picks["best"]] == table.max() and table[picks["worst"]] == table.min()
    png = report.overlays(out / "pp3.csv", out / "shifted.npz", store.path, out / "ov.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    hist = out / "history.csv"
    pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.7, 0.5]}).to_csv(hist, index=False)
    assert report.loss_curves({"a": hist, "b": hist}, out / "curves.png").stat().st_size > 1000
    assert report.dice_boxplot({"a": out / "pp3.csv"}, out / "box.png").is_file()
    with pytest.raises(ValueError, match="history.csv"):
        report.loss_curves({"a": hist}, out / "x.png", loss="nope")


def test_cli_run_and_bad_input(store_and_split):
    from mgi.cli import main

    store, split, out = store_and_split
    _predictions(store, split, out / "cli.npz", shift=1)
    args = ["evaluate", "run", "--predictions", str(out / "cli.npz"), "--store", str(store.path)]
    args += ["--split", str(split), "--run", "unet", "--out-dir", str(out / "cli"), "--seed", "4"]
    assert main(args + ["--bootstrap", "100"]) == 0
    summary = json.loads((out / "cli" / "summary.json").read_text())
    assert summary["run"] == "unet" and summary["settings"]["seed"] == 4
    assert len(pd.read_csv(out / "cli" / "per_patient.csv")) == 3
    args[args.index(str(out / "cli.npz"))] = str(out / "missing.npz")
    assert main(args) == 1
