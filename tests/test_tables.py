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
    pd.DataFrame(
        {"case_id": cases, "dice": dice, "dice_slice": dice, "dice_slice_all": dice, "hd95": 1.0,
         "n_slices": 4, "n_tumour_slices": 2}
    ).to_csv(path, index=False)  # fmt: skip
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


def _patients(dice, fold=None):
    table = pd.DataFrame(
        {"case_id": [f"P{i}" for i in range(len(dice))], "dice": dice, "dice_slice": dice,
         "dice_slice_all": dice, "hd95": 2.0, "n_slices": 4, "n_tumour_slices": 2}
    )  # fmt: skip
    return table if fold is None else table.assign(fold=fold)


def _seeded_runs(n=12, seeds=2):
    """Per run, one per-patient table per seed: mgi gains 0.2 on every patient, mgi_shuffled
    nothing; the seeds differ by a shift the seed average removes."""
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, n)
    fold = np.arange(n) % 3
    gain = {"mgi": 0.2, "image_only": 0.0, "mgi_shuffled": 0.0}
    out = {}
    for k, run in enumerate(tables.TABLE1_RUNS):
        g = gain.get(run, -0.05 - 0.01 * k)
        out[run] = [
            _patients(base + g + (0.02 if s else -0.02) + rng.normal(0, 0.01, n), fold)
            for s in range(seeds)
        ]
    return out


def test_table1_averages_seeds_per_patient_and_corrects_the_family(tmp_path):
    from tex_tables import compile_if_possible, parse_tabular

    per_patient = _seeded_runs()
    table = tables.table1(
        None, tmp_path / "table1", per_patient=per_patient, seeds=[0, 7],
        bootstrap={"n_resamples": 999, "seed": 1},
    ).set_index("method")  # fmt: skip
    mgi = table.loc["mgi"]
    avg = (per_patient["mgi"][0].dice + per_patient["mgi"][1].dice) / 2
    assert mgi["dice"] == pytest.approx(avg.mean()) and mgi["n_seeds"] == 2
    means = [t.dice.mean() for t in per_patient["mgi"]]
    assert mgi["dice_seed_sd"] == pytest.approx(pd.Series(means).std(ddof=1))
    assert mgi["n_test_patients"] == 12 and mgi["n_folds"] == 3
    # the paired difference uses the seed-averaged patients: 0.2 on each, so p is the smallest
    assert mgi["dice_vs_image_only"] == pytest.approx(0.2, abs=0.01)
    assert mgi["p"] == pytest.approx(2 / 1000) and mgi["p_holm"] < 0.05
    assert table.loc["mgi_shuffled", "p_holm"] > 0.05
    assert math.isnan(table.loc["image_only", "p"])
    # family: 6 methods vs image_only + mgi vs 4 baselines = 10 comparisons, Holm over all
    from mgi.stats import holm

    family = pd.concat([table["p"].dropna(), table["mgi_gain_p"].dropna()])
    assert len(family) == 10
    assert list(holm(family.to_numpy())) == pytest.approx(
        list(pd.concat([table["p_holm"].dropna(), table["mgi_gain_p_holm"].dropna()]))
    )
    assert table.loc["unet", "mgi_gain"] > 0.2 and math.isnan(table.loc["mgi", "mgi_gain"])
    folds = pd.read_csv(tmp_path / "table1_folds.csv")
    assert len(folds) == 7 * 3 * 2 and set(folds.seed) == {0, 7}
    one = folds[(folds.method == "mgi") & (folds.seed == 7) & (folds.fold == 1)].dice.item()
    assert one == pytest.approx(per_patient["mgi"][1].dice[1::3].mean())
    tex = (tmp_path / "table1.tex").read_text()
    ncols, rows = parse_tabular(tex)
    assert ncols == 8 and len(rows) == 8  # header + 7 methods; SD over seeds shown
    assert rows[0][0] == "Method" and rows[6][0] == "mgi"
    assert rows[6][1].startswith(r"\textbf{")  # mgi has the best Dice
    assert "[" in rows[6][1] and "12 test patients" in tex and "2 fine-tuning seeds" in tex
    assert "3-fold cross-validation" in tex and "10 comparisons" in tex
    compile_if_possible(tmp_path / "table1.tex", tmp_path)


def test_table1_seeds_must_hold_the_same_patients(tmp_path):
    per_patient = _seeded_runs(n=6)
    per_patient["unet"][1] = per_patient["unet"][1].replace({"case_id": {"P5": "P9"}})
    with pytest.raises(ValueError, match=r"unet: seed 1 holds other test patients.*P5"):
        tables.table1(None, tmp_path / "t", per_patient=per_patient)
    assert not (tmp_path / "t.csv").exists()


def test_table1_one_seed_matches_the_evaluation_summary(tmp_path):
    from mgi.metrics import summarise

    per_patient = {r: t[:1] for r, t in _seeded_runs(n=8).items()}
    table = tables.table1(None, tmp_path / "t", per_patient=per_patient,
                          bootstrap={"n_resamples": 300, "seed": 2})  # fmt: skip
    row = table.set_index("method").loc["unet"]
    summary = summarise(per_patient["unet"][0], n_resamples=300, seed=2)
    for key in ("dice", "dice_ci_low", "dice_ci_high", "hd95", "dice_slice_all"):
        assert row[key] == pytest.approx(summary[key])
    assert row["n_seeds"] == 1 and math.isnan(row["dice_seed_sd"])
    ncols, rows = __import__("tex_tables").parse_tabular((tmp_path / "t.tex").read_text())
    assert ncols == 7  # no SD-over-seeds column for one seed


def test_data_terms_name_the_kaggle_licence():
    terms = tables.data_terms({"source": "gdc", "imaging": {"source": "kaggle"}})
    assert "CC BY-NC-SA 4.0" in terms and "non-commercial" in terms and "GDC" in terms
    assert "synthetic" in tables.data_terms({"source": "demo", "imaging": {"source": "local"}})


def test_the_fold_box_plot_reads_table1_folds(tmp_path):
    from mgi.report import fold_boxplot

    tables.table1(None, tmp_path / "table1", per_patient=_seeded_runs(n=6),
                  bootstrap={"n_resamples": 100})  # fmt: skip
    out = fold_boxplot(tmp_path / "table1_folds.csv", tmp_path / "folds.png")
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="needs columns"):
        fold_boxplot(tmp_path / "table1.csv", tmp_path / "bad.png")
