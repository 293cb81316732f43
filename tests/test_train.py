"""Pre-training and fine-tuning end to end on tiny inputs, with stand-in models (fast)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from train_inputs import TinyPretrain, TinySegmenter, make_inputs

from mgi.data import read_split
from mgi.train import finetune as ft
from mgi.train import pretrain as pt
from mgi.train.retrieval import topk_accuracy
from mgi.train.specs import FinetuneSpec, Loop, Optim, PretrainSpec

OPT = Optim(epochs=2, lr=1e-2, warmup_epochs=0.5, seed=0, device="cpu")


@pytest.fixture()
def inputs(tmp_path):
    return make_inputs(tmp_path / "in")


def _files(inputs):
    return inputs["store"], inputs["matrix"], inputs["zscore"], inputs["split"]


def test_pretrain_uses_training_patients_only_and_writes_outputs(inputs, tmp_path, monkeypatch):
    seen = {}
    real_fit = pt.fit

    def spy_fit(model, task, opt, **kw):
        seen["rows"] = task.dataset.rows.numpy().copy()
        seen["batches"] = [task.batches(e) for e in range(opt.epochs)]
        seen["patient"] = task.dataset.patient.numpy().copy()
        return real_fit(model, task, opt, **kw)

    monkeypatch.setattr(pt, "fit", spy_fit)
    import mgi.train.retrieval as rt

    real_retrieval = rt.retrieval

    def spy_retrieval(model, dataset, *args):
        seen["retrieval_rows"] = dataset.rows.numpy().copy()
        return real_retrieval(model, dataset, *args)

    monkeypatch.setattr(rt, "retrieval", spy_retrieval)
    monkeypatch.setattr(pt, "build_pretrain_model", lambda enc, n_genes, **kw: _tiny(n_genes))
    out = tmp_path / "pre"
    net = pt.pretrain(*_files(inputs), out_dir=out, ckpt_dir=out / "ck", model={},
                      spec=PretrainSpec(batch_size=3), opt=OPT)  # fmt: skip
    index = pd.read_parquet(inputs["store"] / "index.parquet")
    cases = set(index["case_id"].iloc[seen["rows"]])
    assert cases <= set(read_split(inputs["split"], "train"))
    assert (index["tumour_pixels"].iloc[seen["rows"]] > 0).all()  # tumour_only
    # retrieval slices come from the images alone: every (whole-brain) slice of the test
    # patients, tumour-free ones included, so no test mask chose them
    test_rows = np.flatnonzero(index["case_id"].isin(read_split(inputs["split"], "test")))
    assert np.array_equal(seen["retrieval_rows"], test_rows)
    assert (index["tumour_pixels"].iloc[test_rows] == 0).any()
    for epoch in seen["batches"]:
        for b in epoch:
            assert len(set(seen["patient"][b])) == len(b)  # distinct patients per batch
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns[:4]) == ["epoch", "loss", "lr", "seconds"]
    assert "logit_scale" in metrics and len(metrics) == 2
    retrieval = pd.read_csv(out / "retrieval.csv")
    assert set(retrieval["direction"]) == {"image->gene", "gene->image"}
    assert retrieval["accuracy"].between(0, 1).all()
    assert np.allclose(retrieval["chance"], np.minimum(retrieval["k"], 2) / 2)  # 2 test patients
    saved = torch.load(out / "model.pt", weights_only=False)
    assert saved["provenance"]["config_hash"] and saved["gene_encoder"] == "mamba"
    assert float(net.logit_scale.detach()) <= math.log(100) + 1e-6
    assert not (out / "ck").exists()  # checkpoints removed once the outputs exist


def _tiny(n_genes):
    torch.manual_seed(0)
    net = TinyPretrain(n_genes)
    with torch.no_grad():
        net.logit_scale.fill_(9.0)  # above log(100): the trainer must clamp it
    return net


def _finetune(inputs, out, run, monkeypatch, pretrained=None, loop=None, **spec):
    monkeypatch.setattr(ft, "build_segmentation_model", lambda r, n_genes, **kw: _seg(n_genes))
    return ft.finetune(*_files(inputs), run=ft.Run.parse(run, "mamba"), pretrained=pretrained,
                       out_dir=out, ckpt_dir=out / "ck", spec=FinetuneSpec(batch_size=4, **spec),
                       opt=OPT, model={}, loop=loop)  # fmt: skip


def _seg(n_genes):
    torch.manual_seed(0)
    return TinySegmenter(n_genes)


def test_finetune_writes_the_prediction_contract(inputs, tmp_path, monkeypatch):
    out = tmp_path / "unet"
    _finetune(inputs, out, "unet", monkeypatch)
    pred = np.load(out / "predictions.npz")
    index = pd.read_parquet(inputs["store"] / "index.parquet")
    expected = np.flatnonzero(index["case_id"].isin(read_split(inputs["split"], "test")))
    assert pred["rows"].dtype == np.int64 and np.array_equal(pred["rows"], expected)
    assert pred["prob"].dtype == np.float16 and pred["prob"].shape == (len(expected), 16, 16)
    assert np.all((pred["prob"] >= 0) & (pred["prob"] <= 1))
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns[:4]) == ["epoch", "train_loss", "lr", "seconds"]
    assert torch.load(out / "model.pt", weights_only=False)["run"] == "unet"


def test_mgi_loads_pretrained_and_shuffled_genes_change_predictions(inputs, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    pre = tmp_path / "pre.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}}, pre)
    with pytest.raises(ValueError, match="needs the pre-trained model"):
        _finetune(inputs, tmp_path / "x", "mgi", monkeypatch)
    net = _finetune(inputs, tmp_path / "mgi", "mgi", monkeypatch, pretrained=pre)
    assert torch.equal(net.loaded["w"], torch.ones(1))
    _finetune(inputs, tmp_path / "shuf", "mgi_shuffled", monkeypatch, pretrained=pre)
    a = np.load(tmp_path / "mgi" / "predictions.npz")["prob"]
    b = np.load(tmp_path / "shuf" / "predictions.npz")["prob"]
    assert not np.allclose(a, b)  # same seed, same images: only the gene pairing differs


def test_two_loader_workers_predict_bit_identically_to_none(inputs, tmp_path, monkeypatch):
    """Workers load and augment (the default augmentation); gene noise draws in the trainer."""
    pre = tmp_path / "pre.pt"
    torch.save({"state_dict": {}}, pre)
    prob = {}
    for workers in (0, 2):
        out = tmp_path / f"w{workers}"
        _finetune(inputs, out, "mgi", monkeypatch, pretrained=pre, gene_noise=0.3,
                  loop=Loop(workers=workers))  # fmt: skip
        prob[workers] = np.load(out / "predictions.npz")["prob"]
    assert FinetuneSpec().augment.active
    assert np.array_equal(prob[0], prob[2])


def test_run_names():
    assert ft.Run.parse("mgi-mlp", "mamba") == ft.Run("mgi-mlp", "mgi", "mlp", True)
    assert ft.Run.parse("image_only", "mamba").uses_genes is False
    assert ft.Run.parse("mgi_shuffled", "mamba").shuffle_genes
    assert ft.Run.parse("deeplabv3plus", "mamba").gene_encoder is None
    with pytest.raises(ValueError, match="unknown fine-tuning run"):
        ft.Run.parse("vnet", "mamba")


def test_topk_accuracy():
    sim = torch.eye(4)
    assert topk_accuracy(sim, torch.arange(4), 1) == 1.0
    assert topk_accuracy(sim, torch.tensor([1, 0, 3, 2]), 1) == 0.0
    assert topk_accuracy(sim, torch.tensor([1, 0, 3, 2]), 5) == 1.0  # k clipped to 4


def test_sigterm_during_cli_pretraining_checkpoints_and_exits_nonzero(inputs, tmp_path):
    """The real CLI and real (tiny) models: SIGTERM -> checkpoint on disk, exit 128 + 15."""
    out, ck = tmp_path / "pre", tmp_path / "pre" / "checkpoints"
    model = '{"image": {"depth": 1, "patch_size": 8}, "genes": {"patch_size": 4}}'
    cmd = [sys.executable, "-m", "mgi.cli", "pretrain", "--store", str(inputs["store"]),
           "--matrix", str(inputs["matrix"]), "--zscore", str(inputs["zscore"]),
           "--split", str(inputs["split"]), "--out-dir", str(out), "--epochs", "500",
           "--batch-size", "3", "--device", "cpu", "--threads", "1", "--resume",
           "--checkpoint-minutes", "0", "--model-json", model]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "TQDM_DISABLE": "1"})  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(ck.glob("epoch-0001-*.pt")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(proc.stdout.read().decode())
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + signal.SIGTERM, log
    assert "rerun to resume" in log
    assert not (out / "model.pt").exists()
    state = torch.load(sorted(ck.glob("*.pt"))[-1], weights_only=False)
    assert state["epoch"] >= 1 and {"model", "optimizer", "scheduler", "rng"} <= set(state)
    assert set(state["rng"]) >= {"python", "numpy", "torch"}


def test_a_trailing_batch_of_one_slice_joins_the_batch_before(inputs):
    """BatchNorm cannot train on one slice (DeepLabV3+ stopped on it): never a batch of 1."""
    from mgi.data import SliceGeneDataset, load_cohort
    from mgi.imaging import SliceStore

    store = SliceStore(inputs["store"])
    train = load_cohort(store, inputs["matrix"], inputs["zscore"], inputs["split"], "train")
    dataset = SliceGeneDataset(store.images, store.masks, train)
    n = int(dataset.has_tumour().sum())  # empty_ratio 0: the tumour slices only
    assert n >= 3
    run = ft.Run.parse("unet", "mamba")
    for size, expected in ((n - 1, [n]), (n, [n]), (n - 2, [n - 2, 2])):
        spec = FinetuneSpec(batch_size=size, empty_ratio=0.0)
        batches = ft.segmentation_task(dataset, run, spec, seed=0).batches(0)
        assert [len(b) for b in batches] == expected, size
        assert sorted(i for b in batches for i in b) == sorted(set(i for b in batches for i in b))
