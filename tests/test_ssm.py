"""Selective scan: chunked scan (exp and log-space sums) vs the sequential float64 reference (and
mamba_ssm on CUDA)."""

import pytest
import torch

from mgi.models import scan, ssm
from mgi.models.ssm import selective_scan, selective_scan_chunked, selective_scan_ref


def _inputs(batch, dim, state, length, *, dtype=torch.float64, scale=1.0, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype).to(device)

    return {
        "u": r(batch, dim, length),
        "delta": (torch.rand(batch, dim, length, generator=g, dtype=dtype) * scale).to(device),
        "A": -torch.rand(dim, state, generator=g, dtype=dtype).to(device) * 4 - 0.1,
        "B": r(batch, state, length),
        "C": r(batch, state, length),
        "D": r(dim),
        "z": r(batch, dim, length),
        "delta_bias": r(dim) * 0.5,
    }


def _run(fn, inputs, options, **kw):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    args = [leaves[k] for k in ("u", "delta", "A", "B", "C")]
    extra = {k: leaves[k] for k in options}
    out = fn(*args, **extra, delta_softplus="delta_bias" in options, **kw)
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    grads = torch.autograd.grad(
        (out * weight).sum(), list(leaves[k] for k in ["u", "delta", "A", "B", "C", *options])
    )
    return out, grads


@pytest.mark.parametrize(
    ("shape", "options", "chunk"),
    [
        ((2, 3, 4, 1), (), 64),
        ((2, 3, 4, 37), (), 8),
        ((1, 5, 2, 100), ("D",), 16),
        ((2, 4, 3, 65), ("D", "z"), 64),
        ((3, 2, 5, 50), ("D", "z", "delta_bias"), 7),
    ],
)
@pytest.mark.parametrize("keep_elements", [0, 1 << 24])
@pytest.mark.parametrize("log_space", [False, True])
def test_chunked_matches_sequential_reference(
    monkeypatch, shape, options, chunk, keep_elements, log_space
):
    monkeypatch.setattr(ssm, "_KEEP_ELEMENTS", keep_elements)
    inputs = _inputs(*shape)
    out_ref, g_ref = _run(selective_scan_ref, inputs, options)
    out, grads = _run(selective_scan_chunked, inputs, options, chunk=chunk, log_space=log_space)
    torch.testing.assert_close(out, out_ref, rtol=1e-9, atol=1e-9)
    for g, gr in zip(grads, g_ref, strict=True):
        torch.testing.assert_close(g, gr, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("block_elements", [1, 200])
@pytest.mark.parametrize("keep_elements", [0, 1 << 24])
@pytest.mark.parametrize("log_space", [False, True])
def test_many_blocks_and_mixed_chunk_sizes(monkeypatch, block_elements, keep_elements, log_space):
    """Blocks of one chunk (or a few), some with decays large enough to force T = 1 (log space:
    T stays 8); backward with states kept from the forward pass and with states recomputed."""
    monkeypatch.setattr(ssm, "_BLOCK_ELEMENTS", block_elements)
    monkeypatch.setattr(ssm, "_KEEP_ELEMENTS", keep_elements)
    inputs = _inputs(2, 3, 4, 101)
    inputs["delta"][:, :, 40:50] *= 200.0  # |A| * delta up to ~800 per step: beyond float64 exp
    options = ("D", "z")
    out_ref, g_ref = _run(selective_scan_ref, inputs, options)
    out, grads = _run(selective_scan_chunked, inputs, options, chunk=8, log_space=log_space)
    tol = 1e-9 if not log_space else 1e-7  # log space: error ~ the decay over a chunk (~6e4) * eps
    torch.testing.assert_close(out, out_ref, rtol=tol, atol=tol)
    for g, gr in zip(grads, g_ref, strict=True):
        torch.testing.assert_close(g, gr, rtol=tol * 10, atol=tol * 10)


def test_log_space_scan_never_reads_the_device(monkeypatch):
    """The log-space form (CUDA's) fixes T: no per-block overflow test, so no host sync."""

    def sync(*args):
        raise AssertionError("the log-space scan must not test chunks on the host")

    monkeypatch.setattr(ssm, "_fits", sync)
    inputs = _inputs(2, 3, 4, 70, dtype=torch.float32, scale=30.0)
    out, grads = _run(selective_scan_chunked, inputs, ("D", "z"), log_space=True)
    assert torch.isfinite(out).all() and all(torch.isfinite(g).all() for g in grads)


def test_block_size_is_chosen_for_the_device():
    shape = torch.Size([8, 512, 30000])  # B, D, L of a paper-sized scan, N = 16
    cpu, cuda = ssm._block_size(shape, 16, 32), ssm._block_size(shape, 16, 32, cuda=True)
    assert cpu == 32 and cuda == 512  # CUDA: 16x fewer blocks (launches) per scan
    assert ssm._block_size(torch.Size([1, 4, 10]), 2, 32, cuda=True) == 1 << 16  # capped


def test_chunk_size_halves_until_chunks_fit():
    A = -torch.ones(2, 3)
    assert ssm._chunk_size(torch.full((1, 2, 64), 0.5), A, 32) == 32  # span 16
    assert ssm._chunk_size(torch.full((1, 2, 64), 4.0), A, 32) == 8  # span 128 -> 64 -> 32
    assert ssm._chunk_size(torch.full((1, 2, 64), 100.0), A, 32) == 1
    signed = torch.tensor([5.0, -5.0]).repeat(32).view(1, 1, 64).expand(1, 2, 64)
    assert ssm._chunk_size(signed, A, 32) == 8  # sum |delta| counts, not sum delta (= 0)


def test_large_decays_split_chunks_and_stay_finite():
    """|A| * sum(delta) far beyond exp()'s range: chunks are halved, results stay exact."""
    inputs = _inputs(2, 3, 4, 96, dtype=torch.float32, scale=30.0)
    ref = {k: v.double() for k, v in inputs.items()}
    out_ref, g_ref = _run(selective_scan_ref, ref, ("D",))
    out, grads = _run(selective_scan_chunked, inputs, ("D",), chunk=32)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), out_ref, rtol=1e-4, atol=1e-4)
    for g, gr in zip(grads, g_ref, strict=True):
        torch.testing.assert_close(g.double(), gr, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("log_space", [False, True])
def test_float32_close_to_float64_reference(log_space):
    inputs = _inputs(2, 8, 16, 300, dtype=torch.float32)
    out_ref, g_ref = _run(
        selective_scan_ref, {k: v.double() for k, v in inputs.items()}, ("D", "z", "delta_bias")
    )
    out, grads = _run(selective_scan_chunked, inputs, ("D", "z", "delta_bias"), log_space=log_space)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), out_ref, rtol=6e-4, atol=6e-4)
    for g, gr in zip(grads, g_ref, strict=True):
        torch.testing.assert_close(g.double(), gr, rtol=2e-3, atol=2e-3)


def test_bad_shapes_raise():
    x = _inputs(1, 2, 3, 5)
    with pytest.raises(ValueError, match="shapes"):
        selective_scan(x["u"], x["delta"][..., :4], x["A"], x["B"], x["C"])


@pytest.mark.cuda
@pytest.mark.skipif(
    not (torch.cuda.is_available() and ssm.has_cuda_kernel()), reason="needs CUDA and mamba_ssm"
)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 6e-4), (torch.bfloat16, 3e-2)])
def test_cuda_kernel_matches_chunked_scan(dtype, tol):
    """As under autocast: u, delta, B, C and z in ``dtype``; A, D and delta_bias stay float32
    (the kernel rejects them in bf16; the mixer passes them as float32)."""
    options = ("D", "z", "delta_bias")
    low = {"u", "delta", "B", "C", "z"}
    inputs = {
        k: v.to(dtype) if k in low else v
        for k, v in _inputs(2, 16, 8, 512, dtype=torch.float32, device="cuda").items()
    }
    out_k, g_k = _run(selective_scan, inputs, options)  # mamba_ssm kernel
    out_c, g_c = _run(selective_scan_chunked, inputs, options)
    torch.testing.assert_close(out_k.float(), out_c.float(), rtol=tol, atol=tol)
    for a, b in zip(g_k, g_c, strict=True):
        torch.testing.assert_close(a.float(), b.float(), rtol=tol * 10, atol=tol * 10)


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and ssm.has_cuda_kernel()),
                    reason="needs CUDA and mamba_ssm")  # fmt: skip
def test_same_weights_same_block_output_on_both_paths(monkeypatch):
    """One Mamba block on CUDA: mamba_ssm's kernel vs our chunked scan, same weights."""
    from mgi.models.mamba_block import Mamba

    torch.manual_seed(0)
    block = Mamba(d_model=32, d_state=8).cuda()
    x = torch.randn(2, 300, 32, device="cuda")
    fast = block(x)
    monkeypatch.setattr(scan, "_mode", "torch")  # the PyTorch scan on CUDA, asked for
    slow = block(x)
    torch.testing.assert_close(fast, slow, rtol=6e-4, atol=6e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pytorch_scan_on_cuda_is_sync_free():
    """The chunked scan on CUDA (log space) runs forward and backward without a host sync."""
    inputs = _inputs(2, 16, 8, 700, dtype=torch.float32, device="cuda")
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        args = [leaves[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
        out = selective_scan_chunked(*args, delta_softplus=True)
        out.sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    ref = selective_scan_ref(*(v.double().cpu() for v in inputs.values()), delta_softplus=True)
    torch.testing.assert_close(out.detach().double().cpu(), ref, rtol=1e-3, atol=1e-3)


def test_mamba_parameter_names_match_mamba_simple():
    """State dicts load into mamba_ssm's Mamba (mamba_simple) and back: same names and shapes."""
    from mgi.models.mamba_block import Mamba

    block = Mamba(d_model=16, d_state=4, d_conv=4, expand=2)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {
        "A_log": (32, 4),
        "D": (32,),
        "in_proj.weight": (64, 16),
        "conv1d.weight": (32, 1, 4),
        "conv1d.bias": (32,),
        "x_proj.weight": (1 + 2 * 4, 32),
        "dt_proj.weight": (32, 1),
        "dt_proj.bias": (32,),
        "out_proj.weight": (16, 32),
    }
