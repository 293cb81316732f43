"""kaggle_3m's data.csv joins the clinical table, so the split can stratify on its columns."""

from __future__ import annotations

import pandas as pd
import pytest
from kaggle_server import HEADER

from mgi.clinical import clinical_table, join, kaggle_3m_table
from mgi.cohort import build

ROWS = [
    "TCGA_CS_4941,2,4,2,2,,3,2,1,2,1,3,2,2,67,3,2,1",
    "TCGA_CS_4942,1,5,2,1,1,2,1,1,2,1,3,2,1,44,2,,1",
    "TCGA_CS_4943,1,5,2,1,1,2,1,1,1,1,3,2,1,38,2,,0",
    "TCGA_CS_4944,3,5,2,1,1,2,1,1,1,1,3,2,1,52,2,,0",
]


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


def test_data_csv_is_keyed_by_case_barcode(data_csv):
    table = kaggle_3m_table(data_csv)
    assert table.columns[0] == "case_submitter_id" and "Patient" not in table
    assert table.case_submitter_id.tolist()[:2] == ["TCGA-CS-4941", "TCGA-CS-4942"]
    assert table.RPPACluster.isna().sum() == 1 and table.RNASeqCluster.tolist() == [2, 1, 1, 3]


def test_join_keeps_the_gdc_columns_and_renames_clashes(data_csv):
    cases = pd.DataFrame(
        {"case_submitter_id": ["TCGA-CS-4941", "TCGA-CS-4942", "TCGA-HT-7602"], "gender": ["m"] * 3}
    )
    joined = join(cases, kaggle_3m_table(data_csv))
    assert len(joined) == 5  # an outer join: cases without images and images without cases
    row = joined.set_index("case_submitter_id").loc["TCGA-CS-4942"]
    assert row["gender"] == "m" and row["kaggle_3m_gender"] == 1
    assert row["neoplasm_histologic_grade"] == 2


def test_real_data_csv(shared_data):
    table = kaggle_3m_table(shared_data / "kaggle_3m_sample" / "data.csv")
    assert len(table) == 110 and table.case_submitter_id.is_unique
    assert {"RNASeqCluster", "MethylationCluster", "neoplasm_histologic_grade"} <= set(table)


def test_the_split_stratifies_on_a_data_csv_column(data_csv, tmp_path):
    cases = [f"TCGA-CS-{n}" for n in (4941, 4942, 4943, 4944)]
    pd.DataFrame({"case_submitter_id": cases, "file_id": range(4)}).to_csv(
        tmp_path / "files.tsv", sep="\t", index=False
    )
    pd.DataFrame({"case_id": cases}).to_parquet(tmp_path / "index.parquet")
    pd.DataFrame({"case_submitter_id": cases}).to_parquet(tmp_path / "cases.parquet")
    out = {k: tmp_path / f"{k}.tsv" for k in ("paired", "unpaired", "split")}
    kwargs = dict(test_fraction=0.5, clinical=tmp_path / "cases.parquet")
    (table,) = build(
        tmp_path / "files.tsv",
        tmp_path / "index.parquet",
        paired_out=out["paired"],
        unpaired_out=out["unpaired"],
        split_outs=[out["split"]],
        stratify="neoplasm_histologic_grade",
        imaging_table=data_csv,
        **kwargs,
    )
    grade = clinical_table(tmp_path / "cases.parquet", data_csv).set_index("case_submitter_id")
    test = table.case_id[table.split == "test"]
    assert sorted(grade.neoplasm_histologic_grade[test]) == [1, 2]  # one of each grade
    with pytest.raises(ValueError, match="'RNASeqCluster' not in .*cases.parquet$"):
        build(
            tmp_path / "files.tsv",
            tmp_path / "index.parquet",
            paired_out=out["paired"],
            unpaired_out=out["unpaired"],
            split_outs=[out["split"]],
            stratify="RNASeqCluster",
            **kwargs,
        )
