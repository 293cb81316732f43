"""Pairing by case barcode and patient-level splits."""

from __future__ import annotations

import pandas as pd
import pytest

from mgi.barcodes import case_barcode
from mgi.cohort import build, check_no_leakage, cv_splits, pair, split


@pytest.mark.parametrize(
    "name, expected",
    [
        ("TCGA-CS-4941", "TCGA-CS-4941"),
        ("TCGA_CS_4941_19960909", "TCGA-CS-4941"),
        ("TCGA-CS-4941-01A-11R-1896-07", "TCGA-CS-4941"),
        ("tcga-du-7010", "TCGA-DU-7010"),
    ],
)
def test_case_barcode(name, expected):
    assert case_barcode(name) == expected


def test_case_barcode_rejects_other_names():
    with pytest.raises(ValueError, match="not a TCGA barcode"):
        case_barcode("patient_7")


def test_pair_lists_unpaired_cases_with_reasons():
    paired, unpaired = pair(
        ["TCGA-CS-4941-01A", "TCGA-CS-4942-01A", "TCGA-CS-4942-02A"],
        ["TCGA_CS_4941_19960909", "TCGA_DU_7010_19860307"],
    )
    assert list(paired.case_id) == ["TCGA-CS-4941"]
    assert dict(zip(unpaired.case_id, unpaired.reason, strict=True)) == {
        "TCGA-CS-4942": "no imaging",
        "TCGA-DU-7010": "no RNA-seq",
    }


CASES = [f"TCGA-AA-{i:04d}" for i in range(40)]


@pytest.mark.parametrize("val_fraction", [0.0, 0.2])
def test_split_has_no_patient_on_two_sides(val_fraction):
    table = split(CASES, test_fraction=0.25, val_fraction=val_fraction, seed=3)
    sides = {s: set(table.case_id[table.split == s]) for s in ("train", "val", "test")}
    assert not sides["train"] & sides["test"] and not sides["val"] & (
        sides["train"] | sides["test"]
    )
    assert sides["train"] | sides["val"] | sides["test"] == set(CASES)
    assert len(sides["test"]) == 10 and len(sides["val"]) == round(val_fraction * 30)
    assert (table.fold == -1).all()


def test_holdout_without_validation_is_the_former_split():
    """val_fraction 0 keeps the split every earlier run used (the demo's results stand)."""
    from sklearn.model_selection import train_test_split

    _, test = train_test_split(sorted(CASES), test_size=10, random_state=3)
    table = split(CASES, test_fraction=0.25, seed=3)
    assert set(table.case_id[table.split == "test"]) == set(test)
    assert set(table.split) == {"train", "test"}


def test_cv_tests_every_patient_once_and_validates_on_training_patients():
    labels = pd.Series(["G2"] * 20 + ["G3"] * 20, index=CASES)
    tables = cv_splits(CASES, folds=4, val_fraction=0.2, seed=1, labels=labels)
    assert len(tables) == 4
    tested = [c for t in tables for c in t.case_id[t.split == "test"]]
    assert sorted(tested) == sorted(CASES)  # each patient tested exactly once
    for k, table in enumerate(tables):
        test = table[table.split == "test"]
        assert (test.fold == k).all() and len(test) == 10
        assert labels[test.case_id].value_counts().to_dict() == {"G2": 5, "G3": 5}
        assert (table.split == "val").sum() == 6  # 20 % of 30 training patients
        assert table.fold.tolist() == tables[0].fold.tolist()  # one assignment
        check_no_leakage(table)
    assert cv_splits(CASES, folds=4, val_fraction=0.2, seed=1, labels=labels)[2].equals(tables[2])


@pytest.mark.parametrize("folds", [1, 41])
def test_cv_rejects_bad_fold_counts(folds):
    with pytest.raises(ValueError, match="split.folds"):
        cv_splits(CASES, folds=folds)


def test_split_is_seeded():
    a = split(CASES, test_fraction=0.3, seed=1)
    assert a.equals(split(CASES, test_fraction=0.3, seed=1))
    assert not a.equals(split(CASES, test_fraction=0.3, seed=2))


def test_split_stratifies_on_a_label():
    labels = pd.Series(["G2"] * 20 + ["G3"] * 20, index=CASES)
    table = split(CASES, test_fraction=0.25, seed=0, labels=labels)
    test_labels = labels[table.case_id[table.split == "test"]]
    assert test_labels.value_counts().to_dict() == {"G2": 5, "G3": 5}


def test_leakage_check_catches_a_validation_patient_in_training():
    table = pd.DataFrame(
        {"case_id": ["TCGA-AA-0001-01A", "TCGA-AA-0001-02A"], "split": ["train", "val"]}
    )
    with pytest.raises(ValueError, match="both sides"):
        check_no_leakage(table)


def test_leakage_check_catches_aliquots_of_one_patient():
    table = pd.DataFrame(
        {"case_id": ["TCGA-AA-0001-01A", "TCGA-AA-0001-02A"], "split": ["train", "test"]}
    )
    with pytest.raises(ValueError, match="both sides"):
        check_no_leakage(table)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.99])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError):
        split(CASES[:5], test_fraction=fraction)


def test_build_from_demo_files(tiny_demo, tmp_path):
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t")
    index = tmp_path / "index.tsv"
    sheet[["case_id"]].to_csv(index, sep="\t", index=False)
    out = tmp_path / "cohort"
    table = build(
        tiny_demo / "gdc" / "files.tsv", index,
        paired_out=out / "paired.tsv", unpaired_out=out / "unpaired.tsv",
        split_outs=[out / "split.tsv"], test_fraction=0.34, seed=0,
        clinical=tiny_demo / "cases.parquet", stratify=None,
    )[0]  # fmt: skip
    assert len(table) == 6
    unpaired = pd.read_csv(out / "unpaired.tsv", sep="\t")
    assert set(unpaired.reason) == {"no imaging", "no RNA-seq"}
    assert pd.read_csv(out / "split.tsv", sep="\t").equals(table)


def test_build_writes_one_split_per_fold(tiny_demo, tmp_path):
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t")
    index = tmp_path / "index.tsv"
    sheet[["case_id"]].to_csv(index, sep="\t", index=False)
    out = tmp_path / "cohort"
    paths = [out / f"fold{k}" / "split.tsv" for k in range(3)]
    build(
        tiny_demo / "gdc" / "files.tsv", index, paired_out=out / "paired.tsv",
        unpaired_out=out / "unpaired.tsv", split_outs=paths, scheme="cv", seed=0,
    )  # fmt: skip
    tables = [pd.read_csv(p, sep="\t") for p in paths]
    tested = sorted(c for t in tables for c in t.case_id[t.split == "test"])
    assert tested == sorted(tables[0].case_id) and len(tested) == 6
