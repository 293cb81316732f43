"""``mgi imaging slice|qc`` and the QC montages."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_imaging_helpers import kaggle_patient

from mgi.cli import main
from mgi.imaging import SliceStore
from mgi.imaging.qc import pick_rows


def test_cli_slice_and_qc_kaggle(tmp_path):
    kaggle_patient(tmp_path / "root", "TCGA_AB_0001_19990101", 6)
    kaggle_patient(tmp_path / "root", "TCGA_AB_0002_19990101", 4, seed=2)
    store = tmp_path / "store"
    argv = ["imaging", "slice", "--format", "kaggle_3m", "--root", str(tmp_path / "root")]
    assert main([*argv, "--out", str(store), "--size", "32", "--slices", "tumour"]) == 0
    s = SliceStore(store)
    assert s.images.shape[1:] == (32, 32) and s.case_ids == ["TCGA-AB-0001", "TCGA-AB-0002"]
    assert main(["imaging", "qc", "--store", str(store), "--out", str(tmp_path / "qc")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "qc").glob("*.png"))
    assert pngs == ["TCGA-AB-0001.png", "TCGA-AB-0002.png"]
    assert (tmp_path / "qc" / "TCGA-AB-0001.png").read_bytes()[:4] == b"\x89PNG"
    summary = pd.read_csv(tmp_path / "qc" / "summary.tsv", sep="\t")
    assert summary["tumour_slices"].tolist() == [3, 2]


def test_cli_bad_input_returns_1(tmp_path, capsys):
    argv = ["imaging", "slice", "--format", "nifti", "--sheet", str(tmp_path / "none.tsv")]
    assert main([*argv, "--out", str(tmp_path / "s")]) == 1
    assert "none.tsv: sample sheet not found" in capsys.readouterr().err
    argv = ["imaging", "slice", "--format", "nifti", "--root", str(tmp_path)]
    assert main([*argv, "--out", str(tmp_path / "s")]) == 1
    assert not (tmp_path / "s").exists()


def test_pick_rows_prefers_tumour():
    tumour = np.array([0, 0, 5, 6, 0, 7, 0, 0])
    assert pick_rows(tumour, 8).tolist() == [2, 3, 5]
    assert pick_rows(tumour, 2).tolist() == [2, 5]
    assert pick_rows(np.zeros(5), 3).tolist() == [0, 2, 4]
