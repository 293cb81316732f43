"""AdamW groups without weight decay on norms, biases, embeddings and tokens; precision and the
fp16 grad scaler (its logic on the CPU: a CPU scaler stands in for CUDA's)."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest
import torch
from test_models import IMG, N_GENES, TINY
from test_train_loop import OPT, _interrupt_at, _model, _task, _weights

from mgi.models import build_pretrain_model, build_segmentation_model
from mgi.train import loop
from mgi.train import optim as op
from mgi.train.loop import fit
from mgi.train.signals import StopRequested


def _names(groups, decays: bool) -> set[str]:
    return {n for g in groups if (g["weight_decay"] > 0) == decays for n in g["names"]}


def _expected_no_decay(model) -> set[str]:
    """1-D parameters (norms, biases, scalars) and the named embeddings/tokens, nothing else."""
    tokens = ("pos_embed", "cls_token", "tokenizer.identity", "queries", "mask_token", "A_log")
    return {
        n
        for n, p in model.named_parameters()
        if p.ndim <= 1 or n.endswith(tokens) or n == "logit_scale"
    }


@pytest.mark.parametrize("name", ["pretrain", "mgi", "unet"])
def test_no_decay_groups_hold_norms_biases_tokens_and_nothing_else(name):
    if name == "pretrain":
        model = build_pretrain_model(gene_encoder="mamba", n_genes=N_GENES, img_size=IMG, **TINY)
    else:
        model = build_segmentation_model(name, img_size=IMG, n_genes=N_GENES, **TINY)
    groups = op.param_groups(model, lr=1e-3, weight_decay=0.05)
    no_decay, decay = _names(groups, False), _names(groups, True)
    assert no_decay == _expected_no_decay(model)
    assert no_decay | decay == {n for n, _ in model.named_parameters()}
    assert not no_decay & decay
    for n in decay:  # only weight matrices and conv kernels decay
        assert "norm" not in n and not n.endswith(".bias"), n
    if name == "pretrain":
        assert {"logit_scale", "image_encoder.vit.pos_embed", "image_encoder.vit.cls_token",
                "gene_encoder.tokenizer.identity"} <= no_decay  # fmt: skip
        assert any("norm" in n and n.endswith("weight") for n in no_decay)
    if name == "mgi":
        assert {"decoder.mask_token", "gene_pool.queries"} <= no_decay


def test_groups_split_by_lr_and_decay():
    model = build_segmentation_model("mgi", img_size=IMG, n_genes=N_GENES, **TINY)
    groups = op.param_groups(
        model, lr=1e-3, weight_decay=0.05, head_lr_mult=5.0, pretrained=("image_encoder",)
    )
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [
        (1e-3, 0.05), (1e-3, 0.0), (5e-3, 0.05), (5e-3, 0.0)
    ]  # fmt: skip
    assert all(n.startswith("image_encoder.") for g in groups[:2] for n in g["names"])
    assert not any(n.startswith("image_encoder.") for g in groups[2:] for n in g["names"])
    frozen = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for g in groups for p in g["params"]) == frozen
    no_wd = op.param_groups(model, lr=1e-3, weight_decay=0.0)  # no decay: one group
    assert len(no_wd) == 1 and no_wd[0]["weight_decay"] == 0.0


def test_precision_autocast_and_scaler_switches():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for precision in ("bf16", "fp16", "fp32"):
        assert type(op.autocast(cpu, precision)).__name__ == "nullcontext"
        assert not op.grad_scaler(cpu, precision).is_enabled()
    assert type(op.autocast(cuda, "fp32")).__name__ == "nullcontext"
    assert op.DTYPES == {"bf16": torch.bfloat16, "fp16": torch.float16}
    if torch.cuda.is_available():
        assert op.grad_scaler(cuda, "fp16").is_enabled()
        assert not op.grad_scaler(cuda, "bf16").is_enabled()


def _cpu_scaler(device, precision):
    """fp16's scaler on the CPU (growth every 2 steps, so its state changes within the run)."""
    return torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=2,
                                enabled=precision == "fp16")  # fmt: skip


def test_fp16_scaler_steps_checkpoints_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "grad_scaler", _cpu_scaler)
    opt = replace(OPT, precision="fp16")
    straight = _model()
    fit(straight, _task(), opt, ckpt_dir=tmp_path / "a", config={})
    state = torch.load(sorted((tmp_path / "a").glob("*.pt"))[-1], weights_only=False)
    assert state["scaler"]["scale"] == 2.0**8 * 2**10  # grew every 2 of 20 steps
    plain = _model()
    fit(plain, _task(), OPT, ckpt_dir=tmp_path / "p", config={})  # bf16: no scaler on a CPU
    torch.testing.assert_close(_weights(plain), _weights(straight), rtol=1e-5, atol=1e-6)

    kill = _interrupt_at(7, lambda: os.kill(os.getpid(), signal.SIGTERM))  # mid epoch 2
    with pytest.raises(StopRequested):
        fit(_model(), _task(kill), opt, ckpt_dir=tmp_path / "b", config={})
    saved = torch.load(sorted((tmp_path / "b").glob("*.pt"))[-1], weights_only=False)
    assert saved["scaler"]["scale"] == 2.0**8 * 2**3  # 7 steps in
    resumed = _model()
    fit(resumed, _task(), opt, ckpt_dir=tmp_path / "b", config={})
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=1e-6)


def test_fp16_scaler_skips_a_step_whose_gradients_overflow(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "grad_scaler", _cpu_scaler)
    opt = replace(OPT, precision="fp16", epochs=1)
    task = _task()
    calls = {"n": 0}
    real = task.loss

    def loss(model, batch):  # a finite loss whose scaled gradients overflow: step 2 is skipped
        calls["n"] += 1
        out = real(model, batch)
        return out * 1e37 if calls["n"] == 2 else out

    task.loss = loss
    model = _model()
    fit(model, task, opt, ckpt_dir=tmp_path, config={})
    state = torch.load(sorted(tmp_path.glob("*.pt"))[-1], weights_only=False)
    assert state["scaler"]["scale"] == 2.0**8  # 5 steps: halved at 2, doubled at 4 (not 2**10)
    assert all(torch.isfinite(p).all() for p in model.parameters())
