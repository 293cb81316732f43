"""Checkpoint selection on validation patients (mgi.train.select): test patients never choose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from train_inputs import TinySegmenter, make_inputs

from mgi.data import read_split
from mgi.train import finetune as ft
from mgi.train.select import chosen_epoch, mean_patient_dice
from mgi.train.specs import FinetuneSpec, Optim

OPT = Optim(epochs=4, lr=3e-2, warmup_epochs=0.5, seed=0, device="cpu")


def _inputs(root):
    """8 patients: 4 train, 2 val, 2 test."""
    inputs = make_inputs(root, patients=8, n_test=2)
    split = pd.read_csv(inputs["split"], sep="\t")
    split.loc[[4, 5], "split"] = "val"
    split.to_csv(inputs["split"], sep="\t", index=False)
    return inputs


def _run(inputs, out, monkeypatch, select="val_dice"):
    seen = {}
    real_fit = ft.fit

    def spy_fit(model, task, opt, **kw):
        dataset = getattr(task.dataset, "dataset", task.dataset)  # under the augmentation
        seen["rows"] = dataset.rows.numpy().copy()
        return real_fit(model, task, opt, **kw)

    monkeypatch.setattr(ft, "fit", spy_fit)
    monkeypatch.setattr(ft, "build_segmentation_model", lambda r, n_genes, **kw: _seg(n_genes))
    files = inputs["store"], inputs["matrix"], inputs["zscore"], inputs["split"]
    ft.finetune(*files, run=ft.Run.parse("unet", "mamba"), pretrained=None, out_dir=out,
                ckpt_dir=out / "ck", spec=FinetuneSpec(batch_size=4, select=select), opt=OPT,
                model={})  # fmt: skip
    return pd.read_csv(out / "history.csv"), seen["rows"]


def _seg(n_genes):
    torch.manual_seed(0)
    return TinySegmenter(n_genes)


def test_validation_patients_choose_the_epoch_and_never_train(tmp_path, monkeypatch):
    inputs = _inputs(tmp_path / "in")
    history, rows = _run(inputs, tmp_path / "run", monkeypatch)
    index = pd.read_parquet(inputs["store"] / "index.parquet")
    assert set(index.case_id.iloc[rows]) == set(read_split(inputs["split"], "train"))
    assert "val_dice" in history and history["val_dice"].between(0, 1).all()
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert saved["epoch"] == chosen_epoch(history["val_dice"])
    assert not (tmp_path / "run" / "ck").exists()  # best.pt goes with the checkpoints
    last, _ = _run(inputs, tmp_path / "last", monkeypatch, select="last")
    assert torch.load(tmp_path / "last" / "model.pt", weights_only=False)["epoch"] == OPT.epochs
    assert np.allclose(last["val_dice"], history["val_dice"])  # recorded, not used


def test_the_chosen_epoch_never_depends_on_a_test_patient(tmp_path, monkeypatch):
    """Rewrite the test patients' images and masks: training, val_dice and the epoch kept stay
    the same; only the test predictions change."""
    inputs = _inputs(tmp_path / "in")
    before, _ = _run(inputs, tmp_path / "a", monkeypatch)
    index = pd.read_parquet(inputs["store"] / "index.parquet")
    test = np.flatnonzero(index.case_id.isin(read_split(inputs["split"], "test")))
    for name, value in (("images.npy", np.float16(0.9)), ("masks.npy", np.uint8(1))):
        array = np.load(inputs["store"] / name)
        array[test] = value
        np.save(inputs["store"] / name, array)
    after, _ = _run(inputs, tmp_path / "b", monkeypatch)
    cols = ["epoch", "train_loss", "val_dice"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    epochs = [torch.load(tmp_path / r / "model.pt", weights_only=False)["epoch"] for r in "ab"]
    assert epochs[0] == epochs[1] == chosen_epoch(before["val_dice"])
    a, b = (np.load(tmp_path / r / "predictions.npz")["prob"] for r in "ab")
    assert not np.array_equal(a, b)


def test_val_dice_needs_validation_patients(tmp_path, monkeypatch):
    inputs = make_inputs(tmp_path / "in")  # train and test only
    with pytest.raises(ValueError, match="needs validation patients"):
        _run(inputs, tmp_path / "run", monkeypatch)


def test_mean_patient_dice_and_chosen_epoch():
    masks = np.zeros((4, 2, 2), bool)
    masks[0, 0, 0] = masks[2, 1, 1] = True
    prob = masks.astype(np.float32)
    prob[2] = 0.0  # patient 1 missed entirely
    assert mean_patient_dice(prob, masks, np.array([0, 0, 1, 1])) == pytest.approx(0.5)
    assert chosen_epoch([0.2, 0.5, 0.5, 0.1]) == 2  # ties keep the earlier epoch
