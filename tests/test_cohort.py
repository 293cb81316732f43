"""Pairing by case barcode and patient-level splits."""

from __future__ import annotations

import pandas as pd
import pytest

from mgi.barcodes import case_barcode
from mgi.cohort import build, check_no_leakage, pair, split


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


@pytest.mark.parametrize("folds", [0, 4])
def test_split_has_no_patient_on_both_sides(folds):
    table = split(CASES, test_fraction=0.25, folds=folds, seed=3)
    train, test = (
        set(table.case_id[table.split == "train"]),
        set(table.case_id[table.split == "test"]),
    )
    assert not train & test and train | test == set(CASES)
    assert len(test) == 10
    if folds:
        assert set(table.fold[table.split == "train"]) == set(range(folds))
        assert (table.fold[table.split == "test"] == -1).all()


def test_split_is_seeded():
    a = split(CASES, test_fraction=0.3, seed=1)
    assert a.equals(split(CASES, test_fraction=0.3, seed=1))
    assert not a.equals(split(CASES, test_fraction=0.3, seed=2))


def test_split_stratifies_on_a_label():
    labels = pd.Series(["G2"] * 20 + ["G3"] * 20, index=CASES)
    table = split(CASES, test_fraction=0.25, seed=0, labels=labels)
    test_labels = labels[table.case_id[table.split == "test"]]
    assert test_labels.value_counts().to_dict() == {"G2": 5, "G3": 5}


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
        split_out=out / "split.tsv", test_fraction=0.34, seed=0,
        clinical=tiny_demo / "cases.parquet", stratify=None,
    )  # fmt: skip
    assert len(table) == 6
    unpaired = pd.read_csv(out / "unpaired.tsv", sep="\t")
    assert set(unpaired.reason) == {"no imaging", "no RNA-seq"}
    assert pd.read_csv(out / "split.tsv", sep="\t").equals(table)
