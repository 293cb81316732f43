"""Bad imaging input stops with a message naming the file; nothing half-written."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from test_imaging_helpers import kaggle_patient, nifti_pair, sheet

from mgi.imaging import SliceOptions, build_store

OPTS = SliceOptions(size=8)


def build_nifti(tmp_path, flair, mask):
    s = sheet(tmp_path / "sheet.tsv", [("TCGA-AA-0001", flair, mask)])
    return build_store("nifti", s, tmp_path / "store", OPTS)


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "store").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".store")]


def test_missing_file(tmp_path):
    flair, _ = nifti_pair(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="nope.nii.gz"):
        build_nifti(tmp_path, flair, tmp_path / "nope.nii.gz")
    assert_nothing_written(tmp_path)


def test_unreadable_and_truncated(tmp_path):
    flair, mask = nifti_pair(tmp_path / "a")
    bad = tmp_path / "garbage.nii.gz"
    bad.write_bytes(b"not a nifti file at all")
    with pytest.raises(ValueError, match="garbage.nii.gz: cannot read"):
        build_nifti(tmp_path, bad, mask)
    cut = tmp_path / "cut.nii.gz"
    raw = gzip.decompress(flair.read_bytes())
    cut.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match="cut.nii.gz: cannot read"):
        build_nifti(tmp_path, cut, mask)
    assert_nothing_written(tmp_path)


def test_4d_volume(tmp_path):
    _, mask = nifti_pair(tmp_path / "a")
    four = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((12, 10, 6, 2), np.float32), np.eye(4)), four)
    with pytest.raises(ValueError, match="four.nii.gz: expected a 3-D volume"):
        build_nifti(tmp_path, four, mask)


def test_shape_and_affine_mismatch(tmp_path):
    flair, _ = nifti_pair(tmp_path / "a")
    _, small = nifti_pair(tmp_path / "b", shape=(12, 10, 5))
    with pytest.raises(ValueError, match=r"mismatch: .*b/mask.nii.gz.*a/flair.nii.gz"):
        build_nifti(tmp_path, flair, small)
    _, moved = nifti_pair(tmp_path / "c", affine=np.diag([2.0, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"affines of .*c/mask.nii.gz and .*a/flair.nii.gz"):
        build_nifti(tmp_path, flair, moved)
    assert_nothing_written(tmp_path)


def test_empty_mask_and_nan(tmp_path):
    flair, mask = nifti_pair(tmp_path / "a", mask=np.zeros((12, 10, 6), np.uint8))
    with pytest.raises(ValueError, match="a/mask.nii.gz: empty mask"):
        build_nifti(tmp_path, flair, mask)
    vol = np.ones((12, 10, 6), np.float32)
    vol[1, 2, 3] = np.nan
    flair, mask = nifti_pair(tmp_path / "b", flair=vol)
    with pytest.raises(ValueError, match="b/flair.nii.gz: 1 NaN"):
        build_nifti(tmp_path, flair, mask)
    assert_nothing_written(tmp_path)


def test_other_labels_binarised_and_logged(tmp_path, caplog):
    labels = np.zeros((12, 10, 6), np.uint8)
    labels[2:4, 2:4, 2] = 2
    labels[5:7, 5:7, 3] = 4
    flair, mask = nifti_pair(tmp_path / "a", mask=labels)
    caplog.set_level("INFO")
    out = build_nifti(tmp_path, flair, mask)
    assert "mask labels [0, 2, 4] binarised" in caplog.text
    assert set(np.unique(np.load(out / "masks.npy"))) == {0, 1}


def test_kaggle_slice_without_mask(tmp_path):
    d = kaggle_patient(tmp_path / "root", "TCGA_AB_0001_19990101", 3)
    (d / "TCGA_AB_0001_19990101_2_mask.tif").unlink()
    with pytest.raises(FileNotFoundError, match="TCGA_AB_0001_19990101_2_mask.tif: mask missing"):
        build_store("kaggle_3m", tmp_path / "root", tmp_path / "store", OPTS)
    assert_nothing_written(tmp_path)


def test_kaggle_corrupt_tiff_and_duplicate_patient(tmp_path):
    d = kaggle_patient(tmp_path / "root", "TCGA_AB_0001_19990101", 3)
    (d / "TCGA_AB_0001_19990101_3.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match="TCGA_AB_0001_19990101_3.tif: cannot read TIFF"):
        build_store("kaggle_3m", tmp_path / "root", tmp_path / "store", OPTS)
    kaggle_patient(tmp_path / "root2", "TCGA_AB_0001_19990101", 2)
    kaggle_patient(tmp_path / "root2", "TCGA_AB_0001_20000101", 2)
    with pytest.raises(ValueError, match="two folders for patient TCGA-AB-0001"):
        build_store("kaggle_3m", tmp_path / "root2", tmp_path / "store", OPTS)


def test_bad_sheet_and_options(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("case\tflair\n")
    with pytest.raises(ValueError, match="bad.tsv: sample sheet lacks columns"):
        build_store("nifti", bad, tmp_path / "store", OPTS)
    with pytest.raises(ValueError, match="clip_percentiles"):
        SliceOptions(clip_percentiles=(90, 10))
    with pytest.raises(ValueError, match="format"):
        build_store("dicom", bad, tmp_path / "store", OPTS)


def test_empty_mask_skip_is_listed(tmp_path):
    from mgi.imaging import write_qc

    a = nifti_pair(tmp_path / "a")
    b = nifti_pair(tmp_path / "b", mask=np.zeros((12, 10, 6), np.uint8))
    s = sheet(tmp_path / "sheet.tsv", [("TCGA-AA-0001", *a), ("TCGA-AA-0002", *b)])
    out = build_store("nifti", s, tmp_path / "store", SliceOptions(size=8, empty_masks="skip"))
    skipped = pd.read_csv(out / "skipped.tsv", sep="\t")
    assert skipped["case_id"].tolist() == ["TCGA-AA-0002"]
    assert skipped["source"][0].endswith("b/mask.nii.gz")
    assert pd.read_parquet(out / "index.parquet")["case_id"].unique().tolist() == ["TCGA-AA-0001"]
    summary = pd.read_csv(write_qc(out, tmp_path / "qc") / "summary.tsv", sep="\t")
    assert summary["status"].tolist() == ["ok", "skipped: empty mask"]
