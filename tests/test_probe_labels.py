"""Table 2's labels (mgi.probe.labels): each from its source, rare classes and mostly missing
labels listed, never dropped silently; kaggle_3m's real data.csv reaches labels.tsv."""

from __future__ import annotations

import pandas as pd
import pytest

from mgi.probe.labels import (
    LabelRules,
    build_labels,
    labels_stage,
    read_labels,
    read_sources,
    write_labels,
)

CASES = [f"TCGA-AA-{k:04d}" for k in range(40)]


def _write(tmp_path, name, table):
    path = tmp_path / name
    table.to_parquet(path, index=False)
    return path


@pytest.fixture
def tables(tmp_path):
    n = len(CASES)
    clinical = pd.DataFrame(
        {
            "case_submitter_id": CASES,
            "tumor_grade": ["G2", "G3"] * (n // 2),
            "primary_diagnosis": ["Not Reported"] * (n - 5) + ["Astrocytoma, NOS"] * 5,
            "idh": ["wrong source"] * n,  # the markers table wins: looked up first
        }
    )
    markers = pd.DataFrame(
        {
            "case_submitter_id": CASES,
            "idh": ["mutant"] * 25 + ["wildtype"] * 12 + [None] * 3,
            "codeletion_1p19q": ["codeleted"] * 4 + ["non-codeleted"] * 36,
        }
    )
    return _write(tmp_path, "cases.parquet", clinical), _write(tmp_path, "markers.parquet", markers)


def test_each_label_comes_from_its_source_and_skips_are_listed(tables, tmp_path):
    clinical, markers = tables
    sources = read_sources(clinical=clinical, markers=markers)
    names = ["idh", "tumor_grade", "codeletion_1p19q", "primary_diagnosis", "RNASeqCluster"]
    labels, report = build_labels(CASES[:-1] + ["TCGA-AA-0039-01A"], names, sources)
    rows = report.set_index("label")
    assert rows.loc["idh", "source"] == "gdc_markers"
    assert rows.loc["tumor_grade", "source"] == "gdc_clinical"
    assert list(report.label) == names  # every configured label, in config order
    assert rows.loc["codeletion_1p19q", "status"] == "skipped"  # 4 codeleted < 10
    assert "fewer than 2 classes" in rows.loc["codeletion_1p19q", "reason"]
    assert rows.loc["primary_diagnosis", "status"] == "skipped"  # 35 of 40 "Not Reported"
    assert "without a value" in rows.loc["primary_diagnosis", "reason"]
    assert rows.loc["RNASeqCluster", "status"] == "skipped"
    assert "in none of" in rows.loc["RNASeqCluster", "reason"]
    # every label found is in labels.tsv (the cohort's table); the probe reads the used ones
    assert list(labels.columns) == ["case_id", *names[:4]]
    assert labels.idh.isna().sum() == 3 and rows.loc["idh", "n_patients"] == 37
    assert labels.case_id.iloc[-1] == "TCGA-AA-0039"  # sample barcodes reduce to the case


def test_a_rare_class_is_dropped_and_named(tables, tmp_path):
    clinical, markers = tables
    table = pd.read_parquet(clinical)
    table.loc[:2, "tumor_grade"] = "G4"  # 3 patients
    table.to_parquet(clinical, index=False)
    labels, report = build_labels(CASES, ["tumor_grade"], read_sources(clinical=clinical))
    row = report.iloc[0]
    assert row.status == "used" and "G4 (3)" in row.reason and row.n_classes == 2
    assert (labels.tumor_grade == "G4").sum() == 3  # the table keeps them ...
    write_labels(labels, report, tmp_path / "labels.tsv", tmp_path / "sources.tsv")
    probed, _ = read_labels(tmp_path / "labels.tsv", tmp_path / "sources.tsv")
    assert probed.tumor_grade.isna().sum() == 3  # ... the probe does not see them
    _, skipped = build_labels(
        CASES, ["tumor_grade"], read_sources(clinical=clinical), LabelRules(min_per_class=30)
    )
    assert skipped.iloc[0].status == "skipped"


def test_stage_files_round_trip(tables, tmp_path):
    clinical, markers = tables
    paired = tmp_path / "paired.tsv"
    pd.DataFrame({"case_id": CASES}).to_csv(paired, sep="\t", index=False)
    out, sources = tmp_path / "labels.tsv", tmp_path / "label_sources.tsv"
    labels_stage(paired, out, sources, names=["idh", "tumor_grade"], clinical=clinical,
                 markers=markers)  # fmt: skip
    table, used = read_labels(out, sources)
    assert list(used.label) == ["idh", "tumor_grade"]
    assert table.idh.isna().sum() == 3 and set(table.tumor_grade) == {"G2", "G3"}


def test_kaggle_3m_data_csv_labels_reach_labels_tsv(shared_data, tmp_path):
    data_csv = shared_data / "kaggle_3m_sample" / "data.csv"
    raw = pd.read_csv(data_csv)
    cases = raw.Patient.str.replace("_", "-").tolist()
    names = ["RNASeqCluster", "histological_type", "neoplasm_histologic_grade", "CNCluster"]
    labels, report = build_labels(cases, names, read_sources(kaggle_3m=data_csv))
    assert set(report.source) == {"kaggle_3m"}
    assert set(report.file) == {str(data_csv)}
    grade = labels.set_index("case_id").neoplasm_histologic_grade
    expected = raw.set_index(raw.Patient.str.replace("_", "-")).neoplasm_histologic_grade
    pd.testing.assert_series_equal(  # codes as data.csv has them
        grade.astype(float), expected.loc[grade.index].astype(float), check_names=False
    )
    for row in report.itertuples():  # what is kept: the classes of >= 10 patients, no more
        counts = raw[row.label].value_counts()
        assert row.n_patients == counts[counts >= 10].sum(), row.label
    assert (report.status == "used").all()


def test_a_table_without_barcodes_stops_naming_it(tmp_path):
    bad = tmp_path / "cases.parquet"
    pd.DataFrame({"case_submitter_id": ["not-a-barcode"], "x": [1]}).to_parquet(bad)
    with pytest.raises(ValueError, match="cases.parquet.*not a TCGA barcode"):
        read_sources(clinical=bad)
