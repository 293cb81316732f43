"""Paired data: training-set z-scores, patient-level splits, distinct-patient batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from train_inputs import make_inputs

from mgi.data import (
    Cohort,
    DistinctPatientBatchSampler,
    SliceGeneDataset,
    brain_slices,
    build_cohort,
    load_cohort,
    permute_patients,
    read_rows,
    read_split,
    tumour_slices,
    zscore,
)


@pytest.fixture()
def inputs(tmp_path):
    return make_inputs(tmp_path)


def test_cohorts_hold_only_their_split(inputs):
    from mgi.imaging import SliceStore

    store = SliceStore(inputs["store"])
    train = load_cohort(store, inputs["matrix"], inputs["zscore"], inputs["split"], "train")
    test = load_cohort(store, inputs["matrix"], inputs["zscore"], inputs["split"], "test")
    test_cases = set(read_split(inputs["split"], "test"))
    assert not test_cases & set(train.case_ids)
    assert set(store.index["case_id"].iloc[train.rows]).isdisjoint(test_cases)
    assert set(store.index["case_id"].iloc[test.rows]) == test_cases
    assert np.all(np.diff(test.rows) > 0)  # store order
    # z-scored with training statistics: training genes have mean ~0, std ~1
    assert np.allclose(train.genes.mean(0), 0, atol=1e-4)
    assert np.allclose(train.genes.std(0), 1, atol=1e-3)
    item = SliceGeneDataset(store.images, store.masks, train)[5]
    assert item["image"].shape == (1, 16, 16) and item["genes"].shape == (20,)
    assert store.index["case_id"].iloc[int(item["row"])] == train.case_ids[int(item["patient"])]


def test_dataset_reads_store_dtypes_and_yields_exact_float32(inputs, monkeypatch):
    import builtins

    import torch

    from mgi.imaging import SliceStore

    opened = []  # the store's rows are read from its files, not through the memory map

    def spy(path, *args, **kwargs):
        opened.append(Path(path).name)
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr("mgi.data.open", spy, raising=False)
    store = SliceStore(inputs["store"])
    train = load_cohort(store, inputs["matrix"], inputs["zscore"], inputs["split"], "train")
    cohort = tumour_slices(train, store.index)  # rows with gaps: several runs to read
    assert (np.diff(cohort.rows) > 1).any()
    dataset = SliceGeneDataset(store.images, store.masks, cohort)
    # no copy of the cohort (float32 or other) in memory: slices are read per item, as stored
    assert not opened
    assert dataset.images.dtype == np.float16 and dataset.masks.dtype == np.uint8
    assert dataset.images.shape == dataset.masks.shape == (len(cohort.rows), 16, 16)
    assert dataset.images[0].dtype == np.float16 and dataset.masks[[0, 2]].dtype == np.uint8
    for i in range(len(dataset)):
        item = dataset[i]
        assert item["image"].dtype == item["mask"].dtype == torch.float32
        assert item["image"].shape == item["mask"].shape == (1, 16, 16)
        image, mask = store[int(item["row"])]
        np.testing.assert_array_equal(item["image"][0].numpy(), image.astype(np.float32))
        np.testing.assert_array_equal(item["mask"][0].numpy(), mask.astype(np.float32))
    assert opened and set(opened) == {"images.npy", "masks.npy"}
    full = SliceGeneDataset(store.images, store.masks, train)
    tumour = store.index["tumour_pixels"].to_numpy()[train.rows] > 0
    np.testing.assert_array_equal(full.has_tumour(chunk=3), tumour)
    # any rows, in any order, of a whole-file map or of a view of one: plain indexing's values
    rows = np.array([5, 6, 7, 0, 12, 13, 2, 2])
    for array in (store.images, store.masks, store.images[1:], np.asarray(store.masks)):
        got = read_rows(array, rows)
        assert got.dtype == array.dtype and not isinstance(got, np.memmap)
        np.testing.assert_array_equal(got, array[rows])
    assert read_rows(store.images, np.array([], dtype=np.int64)).shape == (0, 16, 16)
    with pytest.raises(IndexError):
        read_rows(store.images, np.array([len(store)]))


def test_zscore_needs_statistics_for_every_gene():
    m = pd.DataFrame([[1.0, 2.0]], index=["A"], columns=["g1", "g2"])
    with pytest.raises(ValueError, match="lack 1 genes"):
        zscore(m, pd.Series([0.0], index=["g1"]), pd.Series([1.0], index=["g1"]))


def test_unpaired_patients_dropped_and_nan_rejected():
    index = pd.DataFrame({"case_id": ["A", "A", "B", "C"]})
    expr = pd.DataFrame([[0.0], [1.0]], index=["A", "B"], columns=["g"])
    cohort = build_cohort(index, expr, ["A", "B", "C"])
    assert cohort.case_ids == ("A", "B") and cohort.rows.tolist() == [0, 1, 2]
    assert cohort.patient.tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="NaN"):
        build_cohort(index, expr.assign(g=[np.nan, 1.0]), ["A", "B"])


def test_read_split_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="split.tsv"):
        read_split(tmp_path / "split.tsv", "train")
    (tmp_path / "bad.tsv").write_text("case\tside\nA\ttrain\n")
    with pytest.raises(ValueError, match="bad.tsv"):
        read_split(tmp_path / "bad.tsv", "train")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batches_hold_distinct_patients_and_cover_every_slice(seed):
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(7), rng.integers(1, 9, size=7))
    sampler = DistinctPatientBatchSampler(patient, 4, seed=seed)
    batches = sampler.batches()
    for b in batches:
        assert len(set(patient[b])) == len(b) and 2 <= len(b) <= 4
    used = sorted(i for b in batches for i in b)
    assert len(used) == len(set(used))  # no slice twice
    assert len(used) >= len(patient) - max(np.bincount(patient))  # nearly all slices


def test_batch_order_depends_only_on_seed_and_epoch():
    patient = np.repeat(np.arange(5), 3)
    a, b = (DistinctPatientBatchSampler(patient, 3, seed=9) for _ in range(2))
    a.set_epoch(2)
    b.set_epoch(2)
    assert a.batches() == b.batches()
    b.set_epoch(3)
    assert a.batches() != b.batches()


def test_permute_patients_is_a_seeded_derangement(inputs):
    from mgi.imaging import SliceStore

    store = SliceStore(inputs["store"])
    train = load_cohort(store, inputs["matrix"], inputs["zscore"], inputs["split"], "train")
    shuffled = permute_patients(train, 3)
    assert np.array_equal(shuffled.genes, permute_patients(train, 3).genes)
    for i in range(len(train.case_ids)):
        assert not np.array_equal(shuffled.genes[i], train.genes[i])
    assert np.allclose(np.sort(shuffled.genes, 0), np.sort(train.genes, 0))


def test_brain_slices_choose_from_the_images_alone(tmp_path):
    """Retrieval's test slices: each patient's slices with >= half its largest brain area."""
    areas = [[0, 10, 40, 60, 30, 19], [5, 8, 4, 0, 0, 0]]  # brain pixels per slice, 2 patients
    images = np.zeros((12, 10, 10), np.float16)
    for p, row in enumerate(areas):
        for s, area in enumerate(row):
            images[p * 6 + s].flat[:area] = 0.5
    np.save(tmp_path / "images.npy", images)
    stored = np.load(tmp_path / "images.npy", mmap_mode="r")
    cohort = Cohort(("a", "b"), np.arange(12), np.repeat([0, 1], 6), np.zeros((2, 3)), ("g",) * 3)
    chosen = brain_slices(cohort, stored)
    assert chosen.rows.tolist() == [2, 3, 4, 6, 7, 8]  # 40, 60, 30 of 60; 5, 8, 4 of 8
    assert chosen.patient.tolist() == [0, 0, 0, 1, 1, 1]
