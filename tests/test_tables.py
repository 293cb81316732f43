"""Tables from fixture result files: row order, the paper column kept apart, provenance."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from mgi import tables


def _summary(path, dice: float):
    metrics = {
        "dice": dice,
        "dice_ci_low": dice - 0.1,
        "dice_ci_high": dice + 0.1,
        "dice_slice": dice - 0.05,
        "dice_slice_all": 0.95,
        "hd95": 3.0,
        "n_test_patients": 6,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": path.parent.name, "metrics": metrics}))
    return path


def _retrieval(path, top1: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "direction": ["image->gene", "image->gene", "gene->image", "gene->image"],
            "level": "patient",
            "k": [1, 5, 1, 5],
            "accuracy": [top1, 0.9, top1 / 2, 0.8],
            "chance": [1 / 6, 5 / 6, 1 / 6, 5 / 6],
            "n_patients": 6,
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def summaries(tmp_path):
    runs = list(reversed(tables.TABLE1_RUNS))  # order of the mapping must not matter
    return {r: _summary(tmp_path / r / "summary.json", 0.5 + 0.01 * i) for i, r in enumerate(runs)}


def test_table1_rows_in_order_and_paper_column_apart(summaries, tmp_path):
    table = tables.table1(summaries, tmp_path / "t" / "table1", config={"x": 1}, seed=3)
    assert tuple(table["method"]) == tables.TABLE1_RUNS
    for col in ("dice", "dice_ci_low", "dice_ci_high", "dice_slice", "dice_slice_all", "hd95"):
        assert col in table
    by = table.set_index("method")
    assert by.loc["mgi", "paper_dice"] == 0.901 and by.loc["unet", "paper_dice"] == 0.735
    assert math.isnan(by.loc["image_only", "paper_dice"])
    assert by.loc["mgi", "dice"] == pytest.approx(0.51)  # ours, from the summary, not the paper's
    csv = pd.read_csv(tmp_path / "t" / "table1.csv")
    assert list(csv["method"]) == list(tables.TABLE1_RUNS) and "paper_dice" in csv
    md = (tmp_path / "t" / "table1.md").read_text()
    assert "| method | dice |" in md and "config hash" in md and "seed 3" in md
    side = json.loads((tmp_path / "t" / "table1.json").read_text())
    assert side["provenance"]["config_hash"] and side["provenance"]["packages"]["numpy"]
    assert len(side["rows"]) == 7


def test_table1_missing_run_raises(summaries, tmp_path):
    del summaries["mgi_shuffled"]
    with pytest.raises(ValueError, match="mgi_shuffled"):
        tables.table1(summaries, tmp_path / "table1")
    assert not (tmp_path / "table1.csv").exists()


def test_bad_summary_names_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        tables.read_summary(bad)


def test_ablation_and_retrieval(tmp_path):
    encs = ["mamba", "mlp"]
    dice, top1 = {"mamba": 0.8, "mlp": 0.6}, {"mamba": 0.5, "mlp": 0.2}
    summ = {e: _summary(tmp_path / e / "summary.json", dice[e]) for e in encs}
    ret = {e: _retrieval(tmp_path / "pre" / e / "retrieval.csv", top1[e]) for e in encs}
    pre = {}
    for e in encs:
        pre[e] = tmp_path / "pre" / e / "metrics.csv"
        pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.5 if e == "mamba" else 1.7]}).to_csv(pre[e])
    abl = tables.ablation(summ, pre, ret, tmp_path / "ablation", seed=0)
    assert list(abl["encoder"]) == encs
    assert list(abl["pretrain_loss"]) == [1.5, 1.7]
    assert list(abl["image_to_gene_top1"]) == [0.5, 0.2] and abl["gene_to_image_top1"][1] == 0.1
    r = tables.retrieval(ret, tmp_path / "retrieval")
    assert len(r) == 8 and list(r.columns)[0] == "encoder" and "chance" in r
    assert (tmp_path / "retrieval.md").read_text().count("mamba") == 4


def test_markdown_blank_for_nan():
    md = tables.to_markdown(pd.DataFrame({"a": ["x"], "b": [float("nan")], "c": [0.12345]}))
    assert md.splitlines()[2] == "| x |  | 0.123 |"


def _per_patient(path, dice):
    path.parent.mkdir(parents=True, exist_ok=True)
    cases = [f"TCGA-XX-{i:04d}" for i in range(len(dice))]
    pd.DataFrame({"case_id": cases, "dice": dice, "hd95": 1.0}).to_csv(path, index=False)
    return path


def test_table1_paired_difference_to_image_only(summaries, tmp_path):
    base = [0.2, 0.9, 0.5, 0.4, 0.7, 0.3]  # patients differ a lot; the runs' gaps do not
    gain = {"image_only": 0.0, "mgi": 0.2, "mgi_shuffled": 0.0}
    per_patient = {
        r: _per_patient(tmp_path / r / "pp.csv", [d + gain.get(r, -0.01 * k) for d in base])
        for k, r in enumerate(tables.TABLE1_RUNS)
    }
    # the unpaired CIs of mgi and image_only would overlap; the paired one excludes 0
    table = tables.table1(
        summaries,
        tmp_path / "t1",
        per_patient=per_patient,
        bootstrap={"n_resamples": 500, "seed": 0},
    ).set_index("method")
    assert table.loc["mgi", "dice_vs_image_only"] == pytest.approx(0.2)
    assert table.loc["mgi", "dice_vs_image_only_ci_low"] == pytest.approx(0.2)
    assert table.loc["mgi_shuffled", "dice_vs_image_only"] == pytest.approx(0.0)
    assert math.isnan(table.loc["image_only", "dice_vs_image_only"])
    assert list(table.columns)[-1] == "paper_dice"
    assert "dice_vs_image_only" in (tmp_path / "t1.md").read_text()


def test_paired_difference_ci_and_mismatched_patients(tmp_path):
    from mgi.metrics import paired_difference

    rng = __import__("numpy").random.default_rng(0)
    ref = pd.DataFrame({"case_id": list("abcdefgh"), "dice": rng.uniform(0.2, 0.9, 8)})
    run = ref.assign(dice=ref.dice + rng.normal(0.1, 0.02, 8)).iloc[::-1]  # order must not matter
    diff, low, high = paired_difference(run, ref, n_resamples=1000, seed=1)
    assert 0.05 < low < diff < high < 0.15
    assert paired_difference(run, ref, n_resamples=1000, seed=1) == (diff, low, high)
    with pytest.raises(ValueError, match=r"different test patients: \['h', 'z'\]"):
        paired_difference(run.replace({"case_id": {"h": "z"}}), ref)
    with pytest.raises(ValueError, match="per-patient-mean"):
        paired_difference(run, ref, "dice_slice")
