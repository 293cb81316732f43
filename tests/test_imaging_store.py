"""Slice store from both formats: same layout, order, normalisation, selection, SliceStore."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_imaging_helpers import kaggle_patient, nifti_pair, sheet

from mgi.imaging import SliceOptions, SliceStore, build_store
from mgi.imaging.volume import normalise, select_slices, stack_to_volume, volume_to_stack


def check_layout(store: SliceStore, size: int) -> None:
    assert store.images.dtype == np.float16 and store.masks.dtype == np.uint8
    assert store.images.shape == store.masks.shape == (len(store), size, size)
    assert isinstance(store.images, np.memmap)
    assert {"case_id", "slice", "tumour_pixels", "source"} <= set(store.index.columns)
    assert float(store.images.max()) <= 1.0 and float(store.images.min()) >= 0.0
    assert set(np.unique(store.masks)) <= {0, 1}
    assert (store.masks.reshape(len(store), -1).sum(1) == store.index["tumour_pixels"]).all()
    # slices of one patient are contiguous
    ids = store.index["case_id"].to_numpy()
    assert len(store.case_ids) == 1 + int((ids[1:] != ids[:-1]).sum())


def test_nifti_store_from_demo(tiny_demo, tmp_path):
    out = build_store(
        "nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "s", SliceOptions(size=16)
    )
    store = SliceStore(out)
    check_layout(store, 16)
    assert len(store.case_ids) == 7 and len(store) == 7 * 8  # 6 paired + 1 image-only, 8 slices
    assert store.case_ids[0] == "TCGA-DM-0001"
    rows = store.rows(["TCGA-DM-0002"])
    assert (store.index["slice"].to_numpy()[rows] == np.arange(8)).all()
    meta = json.loads((out / "store.json").read_text())
    assert meta["cases"]["TCGA-DM-0001"]["axcodes"] == "LPS"
    assert meta["options"]["size"] == 16 and "git_commit" in meta["provenance"]


def test_canonical_orientation(tmp_path):
    """An LPS volume and the same data stored RAS give the same store slices."""
    data = np.random.default_rng(0).uniform(1, 100, (6, 6, 4)).astype(np.float32)
    mask = (data > 60).astype(np.uint8)
    ras = np.diag([1.0, 1.0, 3.0, 1.0])
    lps = np.diag([-1.0, -1.0, 3.0, 1.0])
    a = nifti_pair(tmp_path / "a", affine=lps, flair=data, mask=mask)
    b = nifti_pair(
        tmp_path / "b", affine=ras, flair=data[::-1, ::-1].copy(), mask=mask[::-1, ::-1].copy()
    )
    s = sheet(tmp_path / "sheet.tsv", [("TCGA-AA-0001", *a), ("TCGA-AA-0002", *b)])
    store = SliceStore(build_store("nifti", s, tmp_path / "s", SliceOptions(size=6)))
    ra, rb = store.rows(["TCGA-AA-0001"]), store.rows(["TCGA-AA-0002"])
    np.testing.assert_array_equal(store.images[ra], store.images[rb])
    np.testing.assert_array_equal(store.masks[ra], store.masks[rb])
    # row 0 of slice 0 is the most anterior y; column 0 the patient's right (largest x in RAS+)
    ras_mask = mask[::-1, ::-1]
    assert store.masks[rb][0, 0].tolist() == ras_mask[::-1, -1, 0].tolist()
    assert store.masks[rb][0, 0].tolist() != ras_mask[:, -1, 0].tolist()


def test_kaggle_store_order_and_channel(tmp_path):
    kaggle_patient(tmp_path / "root", "TCGA_AB_0001_19990101", 11)
    kaggle_patient(tmp_path / "root", "TCGA_AB_0002_19990101", 3, seed=1)
    out = build_store("kaggle_3m", tmp_path / "root", tmp_path / "s", SliceOptions(size=16))
    store = SliceStore(out)
    check_layout(store, 16)
    assert store.case_ids == ["TCGA-AB-0001", "TCGA-AB-0002"]
    rows = store.rows(["TCGA-AB-0001"])
    assert store.index["slice"].to_numpy()[rows].tolist() == list(range(1, 12))  # 2 before 10
    means = store.images[rows].astype(np.float32).mean(axis=(1, 2))
    assert (np.diff(means) > 0).all()  # FLAIR channel 1 encodes n
    assert store.index["tumour_pixels"].to_numpy()[rows].tolist()[:4] == [0, 8, 0, 16]
    assert store.index["source"][0].endswith("TCGA_AB_0001_19990101_1.tif")


def test_same_layout_both_formats(tiny_demo, tmp_path):
    kaggle_patient(tmp_path / "root", "TCGA_AB_0001_19990101", 4)
    a = SliceStore(
        build_store("kaggle_3m", tmp_path / "root", tmp_path / "k", SliceOptions(size=8))
    )
    b = SliceStore(
        build_store(
            "nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "n", SliceOptions(size=8)
        )
    )
    assert list(a.index.columns) == list(b.index.columns)
    assert dict(a.index.dtypes) == dict(b.index.dtypes)
    assert a.images.dtype == b.images.dtype and a.images.shape[1:] == b.images.shape[1:]
    assert sorted(p.name for p in a.path.iterdir()) == sorted(p.name for p in b.path.iterdir())


def test_real_kaggle_sample(shared_data, tmp_path):
    root = shared_data / "kaggle_3m_sample"
    store = SliceStore(build_store("kaggle_3m", root, tmp_path / "s", SliceOptions(size=32)))
    check_layout(store, 32)
    assert store.case_ids == ["TCGA-CS-4941", "TCGA-DU-7010"]
    assert len(store.rows(["TCGA-CS-4941"])) == 23 and len(store.rows(["TCGA-DU-7010"])) == 58
    assert store.index["tumour_pixels"].gt(0).sum() > 10


def test_tumour_slice_selection(tiny_demo, tmp_path):
    opts = SliceOptions(size=32, slices="tumour", margin=1)  # native size: no pixel lost
    store = SliceStore(
        build_store("nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "s", opts)
    )
    for case in store.case_ids:
        idx = store.index[store.index["case_id"] == case]
        tumour = idx["slice"][idx["tumour_pixels"] > 0].to_numpy()
        assert idx["slice"].min() >= max(0, tumour.min() - 1)
        assert idx["slice"].max() <= tumour.max() + 1
    assert len(store) < 7 * 8


def test_select_slices_margin():
    mask = np.zeros((10, 2, 2), np.uint8)
    mask[4, 0, 0] = mask[5, 1, 1] = 1
    assert select_slices(mask, "tumour", 2).tolist() == [2, 3, 4, 5, 6, 7]
    assert select_slices(mask, "tumour", 0).tolist() == [4, 5]
    assert select_slices(mask, "all", 0).tolist() == list(range(10))
    with pytest.raises(ValueError, match="slices"):
        select_slices(mask, "some", 0)


def test_normalise_clips_inside_brain():
    vol = np.zeros((2, 10, 10), np.float32)
    vol[:, 2:8, 2:8] = np.linspace(100, 200, 72).reshape(2, 6, 6)
    vol[0, 2, 2] = 10_000  # hot voxel: clipped, does not squash the rest
    out = normalise(vol, (1.0, 97.0))
    assert out[vol == 0].max() == 0.0 and out.max() == 1.0
    assert 0.4 < np.median(out[vol > 0]) < 0.6


def test_stack_volume_inverse():
    vol = np.arange(60).reshape(5, 4, 3)
    assert volume_to_stack(vol).shape == (3, 4, 5)
    np.testing.assert_array_equal(stack_to_volume(volume_to_stack(vol)), vol)


def test_slice_store_rows_and_getitem(tiny_demo, tmp_path):
    store = SliceStore(
        build_store(
            "nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "s", SliceOptions(size=8)
        )
    )
    rows = store.rows(["TCGA-DM-0003", "TCGA-DM-0001"])
    assert rows.tolist() == list(range(0, 8)) + list(range(16, 24))
    img, msk = store[rows[:4]]
    assert img.shape == (4, 8, 8) and msk.shape == (4, 8, 8) and not isinstance(img, np.memmap)
    assert len(store.rows(["TCGA-XX-9999"])) == 0


def test_nifti_folder_pattern_finds_the_same_cases_as_the_sheet(tiny_demo, tmp_path):
    from mgi.imaging import SliceOptions, build_store

    opts = SliceOptions(size=32)
    a = SliceStore(build_store("nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "a", opts))
    b = SliceStore(build_store("nifti", tiny_demo / "imaging", tmp_path / "b", opts))
    assert a.index[["case_id", "slice"]].equals(b.index[["case_id", "slice"]])
    np.testing.assert_array_equal(np.asarray(a.masks), np.asarray(b.masks))


def test_nifti_folder_with_a_flair_but_no_mask_names_the_file(tiny_demo, tmp_path):
    import shutil

    from mgi.imaging.nifti import sheet_from_folder

    root = tmp_path / "imaging"
    shutil.copytree(tiny_demo / "imaging", root)
    case = sorted(p for p in root.iterdir() if p.is_dir())[0]
    (case / "mask.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match="flair.nii.gz: no mask"):
        sheet_from_folder(root)
