"""Mamba-2 SSD: the chunked matmul form vs the sequential reference; the block trains on the CPU."""

import pytest
import torch

from mgi.models import scan
from mgi.models.mamba_block import BiMamba, Mamba2
from mgi.models.ssd import ssd, ssd_ref, ssd_torch

NAMES = ("x", "dt", "A", "B", "C", "D", "dt_bias")


def _inputs(batch, length, heads, headdim, state, *, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype).to(device)

    return {
        "x": r(batch, length, heads, headdim),
        "dt": r(batch, length, heads),
        "A": (-torch.rand(heads, generator=g, dtype=dtype) * 4 - 0.1).to(device),
        "B": r(batch, length, state),
        "C": r(batch, length, state),
        "D": r(heads),
        "dt_bias": r(heads) * 0.5,
    }


def _run(fn, inputs, **kw):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(*(leaves[k] for k in NAMES), **kw)
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).view_as(out)
    return out, torch.autograd.grad((out * weight).sum(), [leaves[k] for k in NAMES])


@pytest.mark.parametrize(
    ("shape", "chunk"),
    [((2, 1, 3, 4, 5), 8), ((2, 37, 3, 4, 5), 8), ((1, 64, 2, 3, 4), 16), ((2, 100, 1, 2, 3), 64)],
)
def test_chunked_matches_sequential_reference(shape, chunk):
    inputs = _inputs(*shape)
    out_ref, g_ref = _run(ssd_ref, inputs)
    out, grads = _run(ssd_torch, inputs, chunk=chunk)
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-10)
    for g, gr in zip(grads, g_ref, strict=True):
        torch.testing.assert_close(g, gr, rtol=1e-9, atol=1e-9)


def test_strong_decays_stay_finite_and_exact():
    """dt A down to ~-200 per step: every decay is exp of a sum <= 0, nothing overflows."""
    inputs = _inputs(2, 50, 2, 3, 4, dtype=torch.float32)
    inputs["dt"] = inputs["dt"] * 10 + 20
    out_ref, _ = _run(ssd_ref, {k: v.double() for k, v in inputs.items()})
    out, grads = _run(ssd_torch, inputs, chunk=16)
    assert all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(out.double(), out_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-4), (torch.bfloat16, 5e-2)])
def test_low_precision_inputs_close_to_float64_reference(dtype, tol):
    """As under autocast: x, dt, B and C in ``dtype``, A, D and dt_bias in float32 (the mixer
    passes them so); computed in float32, returned in x's dtype."""
    inputs = _inputs(2, 96, 2, 8, 4, dtype=torch.float32)
    low = {k: v.to(dtype) if k in ("x", "dt", "B", "C") else v for k, v in inputs.items()}
    out_ref, _ = _run(ssd_ref, {k: v.double() for k, v in low.items()})
    out, _ = _run(ssd_torch, low)
    assert out.dtype == dtype
    scale = out_ref.abs().max()
    torch.testing.assert_close(out.double() / scale, out_ref / scale, rtol=tol, atol=tol)


def test_bad_shapes_raise():
    x = _inputs(1, 5, 2, 3, 4)
    with pytest.raises(ValueError, match="shapes"):
        ssd_torch(x["x"], x["dt"][:, :4], x["A"], x["B"], x["C"])


def test_mamba2_block_shapes_names_and_heads():
    block = Mamba2(d_model=16, d_state=4, d_conv=4, expand=2, heads=4)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {  # mamba_ssm's Mamba2 (ngroups 1) names
        "dt_bias": (4,),
        "A_log": (4,),
        "D": (4,),
        "in_proj.weight": (2 * 32 + 2 * 4 + 4, 16),
        "conv1d.weight": (32 + 2 * 4, 1, 4),
        "conv1d.bias": (32 + 2 * 4,),
        "norm.weight": (32,),
        "out_proj.weight": (16, 32),
    }
    assert block(torch.randn(2, 9, 16)).shape == (2, 9, 16)
    with pytest.raises(ValueError, match="heads"):
        Mamba2(d_model=16, heads=5)


def test_mamba2_is_causal_and_bidirectional_sees_both_ways():
    torch.manual_seed(0)
    one = Mamba2(d_model=8, d_state=4, heads=2)
    x = torch.randn(1, 12, 8)
    y = x.clone()
    y[:, 7:] += 1.0
    torch.testing.assert_close(one(x)[:, :7], one(y)[:, :7])  # the future does not leak back
    both = BiMamba("mamba2", d_model=8, d_state=4, heads=2)
    assert not torch.allclose(both(x)[:, :7], both(y)[:, :7])


def test_mamba2_gene_encoder_trains_on_the_cpu():
    """A mamba2 gene encoder learns a toy regression on the CPU: the loss falls."""
    from mgi.models import build_gene_encoder

    torch.manual_seed(0)
    enc = build_gene_encoder(
        "mamba", n_genes=48, d_model=16, layers=1, patch_size=4, d_state=4, heads=2,
        block="mamba2",
    )  # fmt: skip
    assert scan.model_blocks(enc) == ["mamba2"]
    genes = torch.randn(8, 48)
    target = genes[:, :12].sum(1, keepdim=True)
    head = torch.nn.Linear(16, 1)
    opt = torch.optim.AdamW([*enc.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(head(enc(genes).mean(1)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_ssd_dispatch_on_cpu_is_the_pytorch_form():
    inputs = _inputs(1, 20, 2, 3, 4, dtype=torch.float32)
    torch.testing.assert_close(ssd(*inputs.values()), ssd_torch(*inputs.values()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-3), (torch.bfloat16, 5e-2)])
def test_cuda_paths_match_the_cpu_reference(dtype, tol):
    """On CUDA: the PyTorch SSD, and mamba-ssm's Triton kernel where it loads, against the CPU
    float64 reference (x, dt, B, C in ``dtype``; A, D, dt_bias float32)."""
    inputs = _inputs(2, 256, 4, 16, 8, dtype=torch.float32, device="cuda")
    low = {k: v.to(dtype) if k in ("x", "dt", "B", "C") else v for k, v in inputs.items()}
    ref, g_ref = _run(ssd_ref, {k: v.double().cpu() for k, v in low.items()})
    paths = [ssd_torch]
    if scan._probe("mamba2", "cuda:0")[0]:
        from mgi.models.ssd import ssd_triton

        paths.append(ssd_triton)
    scale = ref.abs().max()
    for fn in paths:
        out, grads = _run(fn, low)
        got = out.double().cpu() / scale
        torch.testing.assert_close(got, ref / scale, rtol=tol, atol=tol, msg=fn.__name__)
        for g, gr in zip(grads, g_ref, strict=True):
            gs = gr.abs().max()
            torch.testing.assert_close(g.double().cpu() / gs, gr / gs, rtol=tol, atol=tol * 4)
