"""Selective scan (Mamba's S6 recurrence), signature of ``mamba_ssm``'s ``selective_scan_fn``.

Three implementations of one function:

* ``mamba_ssm``'s fused CUDA kernel, on CUDA where it loads (:mod:`mgi.models.scan` decides and
  says which runs; ``model.genes.scan``);
* :func:`selective_scan_chunked`, pure PyTorch for any device: a chunked parallel scan with a
  hand-written backward that recomputes each block's states, so memory stays bounded at
  L = 60,660 (only the (B, D, N) state at every block boundary is kept, never (B, D, N, L));
* :func:`selective_scan_ref`, the plain sequential loop over L (mamba's ``selective_scan_ref``),
  the reference the tests compare both against.

Hand-written because nothing on PyPI does this on a CPU: ``mambapy``'s ``pscan`` materialises
(B, L, D, N) for the whole sequence (GBs at L = 60k) and mamba_ssm has no CPU path.

The recurrence, per batch b, channel d and state n (A is real):
``h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t`` and ``y_t = sum_n C_t h_t``.
The sequence is processed in blocks of (B, D, N) elements sized for the device (CPU: ~2^17,
cache-sized, measured fastest; CUDA: ~2^25, few kernel launches), each split into chunks of T
steps. Inside a chunk, with ``S_t = A * cumsum(delta)_t`` (the log decay since the chunk start),
``h_t = exp(S_t) * (h_0 + cumsum_s(exp(-S_s) delta_s B_s u_s))``: one cumsum instead of a loop;
chunk-start states come from a short loop over the chunks. The product is exact but overflows
when |S| gets large. On the CPU a block's T is halved until max |A| * sum |delta| over every
chunk stays below a dtype bound (60 in float32; at T = 1 no exp(-S) is formed at all). That
test reads a value on the host, one sync per block; on CUDA the chunk sums are instead taken in
log space (``logcumsumexp`` of the positive and negative terms), which cannot overflow for any
decay, so T is fixed and the scan never waits for the device (its float32 error grows with the decay
over a chunk, ~1e-5 relative for initial decays, never inf or NaN). Inputs are computed in float32
(float64 stays float64), as mamba's kernel does.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from mgi.models import scan as _scan

log = logging.getLogger(__name__)

CHUNK = 32  # steps per chunk (the cumsum form); measured fastest on CPU with the block size below
# steps per chunk of the log-space form (CUDA): its relative error grows with the log decay over
# a chunk (~ max |A| * sum delta * 6e-8 in float32), so chunks stay short
CHUNK_CUDA = 32
_MAX_LOG_RANGE = {torch.float32: 60.0, torch.float64: 600.0}  # |S| that exp() survives safely
_BLOCK_ELEMENTS = 1 << 17  # elements of one (B, D, N, block) intermediate: cache-sized, fastest
_BLOCK_ELEMENTS_CUDA = 1 << 25  # on CUDA: 128 MB per intermediate, a few hundred launches a scan
_KEEP_ELEMENTS = 1 << 24  # B * D * N * L up to which forward keeps 4 such tensors (256 MB)


def has_cuda_kernel() -> bool:
    """True when ``mamba_ssm``'s CUDA selective scan imports with its compiled extension."""
    return _scan._import_selective_scan()[0] is not None


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Mamba's selective scan on u's device, by the scan :mod:`mgi.models.scan` resolves there
    (``mamba_ssm``'s kernel on CUDA, else the chunked scan; raises ScanUnavailable on CUDA
    without the kernel unless ``model.genes.scan: torch``).

    u, delta, z: (B, D, L); A: (D, N) real; B, C: (B, N, L); D, delta_bias: (D,).
    Returns out (B, D, L) in u's dtype: ``(y + D * u) * silu(z)``.
    """
    if u.device.type == "cpu":  # the common case: no resolution needed per call
        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    fn = _scan.resolve_scan(u.device, None, "mamba1").fn
    return fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def _prepare(u, delta, A, B, C, delta_bias, delta_softplus):
    """Upcast to float32 (float64 stays), apply bias and softplus to delta; checks shapes."""
    if A.is_complex() or B.dim() != 3 or C.dim() != 3:
        raise ValueError("selective_scan: real A (D, N) and variable B, C (B, N, L) are supported")
    if u.shape != delta.shape or A.shape[0] != u.shape[1] or B.shape[-1] != u.shape[-1]:
        raise ValueError(
            f"selective_scan: shapes u {tuple(u.shape)}, delta {tuple(delta.shape)}, "
            f"A {tuple(A.shape)}, B {tuple(B.shape)} do not match (B, D, L), (D, N), (B, N, L)"
        )
    dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].to(dtype)
    if delta_softplus:
        delta = F.softplus(delta)
    return u.to(dtype), delta, A.to(dtype), B.to(dtype), C.to(dtype)


def _finish(y, u, D, z, dtype):
    """``(y + D u) * silu(z)``, cast to the input dtype."""
    out = y if D is None else y + u * D[:, None].to(y.dtype)
    if z is not None:
        out = out * F.silu(z.to(y.dtype))
    return out.to(dtype)


def selective_scan_chunked(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, chunk=None,
    log_space=None,
):  # fmt: skip
    """Pure-PyTorch chunked parallel selective scan; same arguments as :func:`selective_scan`.

    ``log_space`` (default: on CUDA) sums chunks in log space with a fixed ``chunk`` (default
    CHUNK_CUDA): no host sync. Otherwise chunks start at ``chunk`` (default CHUNK) steps and are
    halved where exp() would overflow.
    """
    dtype = u.dtype
    log_space = u.is_cuda if log_space is None else log_space
    chunk = chunk or (CHUNK_CUDA if log_space else CHUNK)
    u32, delta32, A32, B32, C32 = _prepare(u, delta, A, B, C, delta_bias, delta_softplus)
    y = _ChunkedScan.apply(u32, delta32, A32, B32, C32, chunk, log_space)
    return _finish(y, u32, D, z, dtype)


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Sequential reference (a Python loop over L, as mamba's ``selective_scan_ref``).

    u, delta, z: (B, D, L); A: (D, N); B, C: (B, N, L); D, delta_bias: (D,) -> out (B, D, L).
    """
    dtype = u.dtype
    u, delta, A, B, C = _prepare(u, delta, A, B, C, delta_bias, delta_softplus)
    delta_a = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))  # B x D x L x N
    delta_b_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # B x D x N
    ys = []
    for t in range(u.shape[-1]):
        h = delta_a[:, :, t] * h + delta_b_u[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    return _finish(torch.stack(ys, dim=-1), u, D, z, dtype)


def _fits(delta: torch.Tensor, A: torch.Tensor, T: int) -> bool:
    """Whether exp(+-S) stays finite in every chunk of T steps: max |A| * sum|delta| <= bound.

    delta: (B, D, S) with S a multiple of T; A: (D, N).
    """
    span = delta.abs().unflatten(-1, (-1, T)).sum(-1) * A.abs().amax(-1)[:, None]  # B x D x chunks
    return bool(span.max() <= _MAX_LOG_RANGE[delta.dtype])


def _chunk_size(delta: torch.Tensor, A: torch.Tensor, chunk: int) -> int:
    """The largest power-of-two halving of ``chunk`` whose chunks all fit (1 if none does)."""
    T = chunk
    while T > 1 and not _fits(delta, A, T):
        T //= 2
    return T


def _decays(delta: torch.Tensor, A: torch.Tensor, T: int):
    """exp(S) and exp(-S) per chunk, S = A * cumsum(delta) since the chunk start.

    delta: (B, D, S); A: (D, N) -> two (B, D, N, chunks, T) tensors (exp(-S) is None for T = 1:
    it is never needed there and may overflow). Multiplying by exp(-S) beats dividing by exp(S).
    """
    x = torch.cumsum(delta.unflatten(-1, (-1, T)), -1)[:, :, None] * A[:, :, None, None]
    return torch.exp(x), (torch.exp(-x) if T > 1 else None)


def _block_states(b, h0, e, e_inv):
    """States of one block from b = delta B u (B, D, N, S), h0 (B, D, N) and :func:`_decays`.

    Within each chunk h_t = e_t (h_start + cumsum_s(e_inv_s b_s)); the chunk-start states come
    from a short loop over the chunks. Returns h (B, D, N, S) and the last state (B, D, N).
    """
    bc = b.unflatten(-1, e.shape[-2:])  # B x D x N x chunks x T
    acc = bc if e_inv is None else torch.cumsum(bc * e_inv, -1)
    starts, h = [], h0
    for c in range(e.shape[3]):
        starts.append(h)
        h = (
            e[..., c, -1] * h + acc[..., c, -1]
            if e_inv is None
            else e[..., c, -1] * (h + acc[..., c, -1])
        )
    starts = torch.stack(starts, -1)[..., None]  # B x D x N x chunks x 1
    h_all = bc + e * starts if e_inv is None else e * (acc + starts)
    return h_all.flatten(-2), h


def _block_adjoint(c, carry, e, e_inv):
    """Reverse scan g_t = c_t + exp(delta_{t+1} A) g_{t+1} over one block.

    c: (B, D, N, S); carry: (B, D, N) = exp(delta_next A) g_next from the following block;
    e, e_inv from :func:`_decays`. Returns g (B, D, N, S) and the carry into the previous block.
    """
    cc = c.unflatten(-1, e.shape[-2:])  # B x D x N x chunks x T
    # within a chunk: g_t = e_inv_t * (sum_{s >= t} e_s c_s + e_last * carry_in)
    acc = cc if e_inv is None else torch.flip(torch.cumsum(torch.flip(e * cc, [-1]), -1), [-1])
    carries, g = [], carry
    for k in reversed(range(e.shape[3])):
        carries.append(g)
        g = (
            e[..., k, 0] * (acc[..., k, 0] + g)
            if e_inv is None
            else acc[..., k, 0] + e[..., k, -1] * g
        )
    carries = torch.stack(carries[::-1], -1)[..., None]  # B x D x N x chunks x 1
    g_all = cc + carries if e_inv is None else e_inv * (acc + e[..., -1:] * carries)
    return g_all.flatten(-2), g


def _log_decays(delta: torch.Tensor, A: torch.Tensor, T: int):
    """S = A * cumsum(delta) since each chunk's start, and exp(S): two (B, D, N, chunks, T)."""
    S = torch.cumsum(delta.unflatten(-1, (-1, T)), -1)[:, :, None] * A[:, :, None, None]
    return torch.exp(S), S


def _log_cumsums(x: torch.Tensor, logw: torch.Tensor, reverse: bool = False):
    """log of the cumulative sums of exp(logw) * x along the last axis (from the end with
    ``reverse``), positive and negative terms apart: (log sum of x > 0 terms, of x < 0 terms).

    Sums of exponentials taken in log space never overflow, whatever the decays."""
    if reverse:
        x, logw = x.flip(-1), logw.flip(-1)
    mag = torch.log(x.abs()) + logw  # -inf where x == 0
    none = torch.full_like(mag, float("-inf"))
    pos = torch.logcumsumexp(torch.where(x > 0, mag, none), -1)
    neg = torch.logcumsumexp(torch.where(x < 0, mag, none), -1)
    return (pos.flip(-1), neg.flip(-1)) if reverse else (pos, neg)


def _block_states_log(b, h0, e, S):
    """:func:`_block_states` with the chunk sums in log space (any decay, T fixed).

    Zero-start states within a chunk: Z_t = sum_{s <= t} exp(S_t - S_s) b_s; then
    h_t = Z_t + exp(S_t) h_start.
    """
    bc = b.unflatten(-1, e.shape[-2:])  # B x D x N x chunks x T
    pos, neg = _log_cumsums(bc, -S)
    Z = torch.exp(S + pos) - torch.exp(S + neg)
    starts, h = [], h0
    for c in range(e.shape[3]):
        starts.append(h)
        h = e[..., c, -1] * h + Z[..., c, -1]
    starts = torch.stack(starts, -1)[..., None]  # B x D x N x chunks x 1
    return (Z + e * starts).flatten(-2), h


def _block_adjoint_log(c, carry, e, S):
    """:func:`_block_adjoint` with the chunk sums in log space.

    Zero-carry adjoint within a chunk: G_t = sum_{s >= t} exp(S_s - S_t) c_s; then
    g_t = G_t + exp(S_last - S_t) carry_in, and the carry out is exp(S_first) g_first.
    """
    cc = c.unflatten(-1, e.shape[-2:])  # B x D x N x chunks x T
    pos, neg = _log_cumsums(cc, S, reverse=True)
    G = torch.exp(pos - S) - torch.exp(neg - S)
    carries, g = [], carry
    for k in reversed(range(e.shape[3])):
        carries.append(g)
        g = e[..., k, 0] * G[..., k, 0] + e[..., k, -1] * g
    carries = torch.stack(carries[::-1], -1)[..., None]  # B x D x N x chunks x 1
    tail = torch.exp(S[..., -1:] - S)  # exp(S_last - S_t) <= 1
    return (G + tail * carries).flatten(-2), g


def _states(b, h0, dec):
    """States of one block: ``dec`` is ("log", e, S) or ("exp", e, e_inv)."""
    kind, e, other = dec
    return _block_states_log(b, h0, e, other) if kind == "log" else _block_states(b, h0, e, other)


def _adjoint(c, carry, dec):
    """Adjoint of one block (see :func:`_states`)."""
    kind, e, other = dec
    if kind == "log":
        return _block_adjoint_log(c, carry, e, other)
    return _block_adjoint(c, carry, e, other)


def _block_decays(d, A, T: int, log_space: bool):
    """The decay tuple :func:`_states` reads."""
    return ("log", *_log_decays(d, A, T)) if log_space else ("exp", *_decays(d, A, T))


def _block_size(shape: torch.Size, n_state: int, chunk: int, cuda: bool = False) -> int:
    """Steps per block (a multiple of chunk): one (B, D, N, block) tensor ~ the device's budget
    (CPU: cache-sized; CUDA: large, so a scan launches few kernels)."""
    per_step = shape[0] * shape[1] * n_state
    budget, cap = (_BLOCK_ELEMENTS_CUDA, 1 << 16) if cuda else (_BLOCK_ELEMENTS, 4096)
    return max(chunk, min(cap, (budget // per_step) // chunk * chunk))


class _ChunkedScan(torch.autograd.Function):
    """y = scan(u, delta, A, B, C) block by block; backward runs the adjoint scan block by block.

    Saved for backward: the inputs and one (B, D, N) state per block; the per-block states and
    decays too while B * D * N * L <= _KEEP_ELEMENTS (short sequences: no recomputation),
    otherwise backward recomputes them, so (B, D, N, L) never exists at once.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, chunk, log_space):
        length = u.shape[-1]
        pad = -length % chunk  # zero steps at the end: decay 1, input 0, outputs dropped
        u, delta, B, C = (F.pad(t, (0, pad)) for t in (u, delta, B, C))
        block = _block_size(u.shape, A.shape[1], chunk, u.is_cuda)
        keep = u.shape[0] * u.shape[1] * A.shape[1] * u.shape[-1] <= _KEEP_ELEMENTS
        h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # B x D x N
        starts, ys, sizes, cache = [], [], [], []
        for s in range(0, u.shape[-1], block):
            sl = slice(s, s + block)
            d = delta[..., sl]
            T = chunk if log_space else _chunk_size(d, A, chunk)  # log space: no host sync
            b = (d * u[..., sl])[:, :, None] * B[:, None, :, sl]  # B x D x N x S
            starts.append(h)
            sizes.append(T)
            dec = _block_decays(d, A, T, log_space)
            hs, h = _states(b, h, dec)
            ys.append((hs * C[:, None, :, sl]).sum(2))
            if keep:
                cache.append((b, dec, hs))
        ctx.save_for_backward(u, delta, A, B, C, torch.stack(starts))
        ctx.meta = (block, sizes, length, log_space)
        ctx.cache = cache if keep else None
        return torch.cat(ys, dim=-1)[..., :length]

    @staticmethod
    def backward(ctx, gy):
        u, delta, A, B, C, starts = ctx.saved_tensors
        block, sizes, length, log_space = ctx.meta
        gy = F.pad(gy, (0, u.shape[-1] - length))
        grads = [torch.empty_like(t) for t in (u, delta, B, C)]
        gA = torch.zeros_like(A)
        carry = torch.zeros_like(starts[0])  # B x D x N
        for i, s in reversed(list(enumerate(range(0, u.shape[-1], block)))):
            sl = slice(s, s + block)
            d, uu, Bs = delta[..., sl], u[..., sl], B[:, None, :, sl]
            if ctx.cache is not None:
                b, dec, hs = ctx.cache[i]
            else:
                b = (d * uu)[:, :, None] * Bs  # B x D x N x S
                dec = _block_decays(d, A, sizes[i], log_space)
                hs, _ = _states(b, starts[i], dec)
            gys = gy[..., sl]
            g, carry = _adjoint(gys[:, :, None] * C[:, None, :, sl], carry, dec)
            gA += _block_grads(g, hs, b, d, uu, Bs, gys, A, [t[..., sl] for t in grads])
        ctx.cache = None
        gu, gdelta, gB, gC = (t[..., :length] for t in grads)
        return gu, gdelta, gA, gB, gC, None, None


def _block_grads(g, hs, b, d, u, Bs, gy, A, out) -> torch.Tensor:
    """Write du, ddelta, dB, dC of one block into ``out`` (views); return its dA (D, N).

    g: adjoint (B, D, N, S); hs: states; b = delta B u; d, u, gy: (B, D, S); Bs: (B, 1, N, S).
    """
    gu, gdelta, gB, gC = out
    gC.copy_((hs * gy[:, :, None]).sum(1))
    decayed = g * (hs - b)  # dL/d(delta A): g_t * exp(delta_t A) h_{t-1}
    q = (g * Bs).sum(2)
    gdelta.copy_((decayed * A[:, :, None]).sum(2) + u * q)
    gu.copy_(d * q)
    gB.copy_((g * (d * u)[:, :, None]).sum(1))
    return (decayed * d[:, :, None]).sum((0, 3))
