"""The way back: store slices -> NIfTI on the FLAIR's native grid, voxel for voxel."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from test_imaging_helpers import nifti_pair

from mgi.imaging import SliceOptions, SliceStore, build_store, write_prediction_nifti


@pytest.mark.parametrize("size", [32, 64])  # native in-plane size, and 2x (nearest is exact)
def test_mask_round_trip_demo(tiny_demo, tmp_path, size):
    """Slicing the demo volumes and writing their own masks back reproduces them exactly."""
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t")
    store = SliceStore(
        build_store(
            "nifti", tiny_demo / "imaging" / "sheet.tsv", tmp_path / "s", SliceOptions(size=size)
        )
    )
    for row in sheet.itertuples():
        rows = store.rows([row.case_id])
        out = write_prediction_nifti(
            store.masks[rows], tiny_demo / "imaging" / row.flair, tmp_path / f"{row.case_id}.nii.gz"
        )
        orig = nib.load(tiny_demo / "imaging" / row.mask)
        back = nib.load(out)
        assert back.shape == orig.shape
        np.testing.assert_allclose(back.affine, orig.affine)
        assert "".join(nib.aff2axcodes(back.affine)) == "LPS"
        np.testing.assert_array_equal(np.asarray(back.dataobj), np.asarray(orig.dataobj))


def test_round_trip_oblique_permuted_axes(tmp_path):
    """Axes permuted (slice axis first) and non-cubic: still voxel for voxel."""
    shape = (5, 12, 6)  # in-plane 6 x 12 -> 24 x 24: integer factors, exact
    aff = np.array([[0, 0, -1.0, 3], [0, 2.0, 0, 1], [4.0, 0, 0, -2], [0, 0, 0, 1]])
    mask = np.zeros(shape, np.uint8)
    mask[1:4, 2:9, 1:3] = 1
    mask[2, 5, 5] = 1
    flair, mask_path = nifti_pair(tmp_path / "c", shape=shape, affine=aff, mask=mask)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"case_id\tflair\tmask\nTCGA-AA-0001\t{flair}\t{mask_path}\n")
    store = SliceStore(build_store("nifti", sheet, tmp_path / "s", SliceOptions(size=24)))
    assert len(store) == 5  # slices along the axis the affine maps to z
    out = write_prediction_nifti(store.masks[:], flair, tmp_path / "pred.nii.gz")
    np.testing.assert_array_equal(np.asarray(nib.load(out).dataobj), mask)


def test_subset_of_slices_with_slice_index(tiny_demo, tmp_path):
    sheet = tiny_demo / "imaging" / "sheet.tsv"
    opts = SliceOptions(size=32, slices="tumour", margin=0)
    store = SliceStore(build_store("nifti", sheet, tmp_path / "s", opts))
    rows = store.rows(["TCGA-DM-0001"])
    flair = tiny_demo / "imaging" / "TCGA-DM-0001" / "flair.nii.gz"
    with pytest.raises(ValueError, match="slice_index"):
        write_prediction_nifti(store.masks[rows], flair, tmp_path / "p.nii.gz")
    out = write_prediction_nifti(
        store.masks[rows], flair, tmp_path / "p.nii.gz", slice_index=store.index["slice"][rows]
    )
    orig = np.asarray(nib.load(tiny_demo / "imaging" / "TCGA-DM-0001" / "mask.nii.gz").dataobj)
    np.testing.assert_array_equal(np.asarray(nib.load(out).dataobj), orig)


def test_probabilities_bilinear(tiny_demo, tmp_path):
    flair = tiny_demo / "imaging" / "TCGA-DM-0001" / "flair.nii.gz"
    pred = np.full((8, 16, 16), 0.25, np.float32)
    out = write_prediction_nifti(pred, flair, tmp_path / "p.nii", mode="bilinear", dtype=np.float32)
    data = nib.load(out).get_fdata()
    assert data.shape == (32, 32, 8) and np.allclose(data, 0.25)
    assert not list(tmp_path.glob(".*"))  # no temporary left behind
