"""Mamba-2's SSD (state-space duality) scan in its chunked matmul form, in PyTorch.

The "minimal SSD" of the Mamba-2 paper (Dao & Gu 2024, Listing 1), for a scalar decay per head:
per head h, ``H_t = exp(dt_t A_h) H_{t-1} + dt_t x_t B_t^T`` (H: headdim x N) and
``y_t = H_t C_t + D_h x_t``. The sequence is cut into chunks of T steps:

1. inside each chunk, a masked quadratic form ``Y = (C B^T * L) X`` with
   ``L[t, s] = exp(a_{s+1} + ... + a_t)`` (a = dt A): matmuls, so tensor cores on a GPU;
2. each chunk's final state from its inputs (another matmul);
3. a recurrence over the chunk states, itself one (chunks x chunks) masked matmul;
4. each chunk's output from the state entering it.

All decays are exp of sums of a <= 0, so nothing overflows, and no host sync happens: it runs
as it is on CPU and CUDA (no compiled extension). Computed in float32 with autocast off
(float64 stays float64), like the selective scan; B and C are shared by all heads (Mamba-2's
``ngroups = 1``). :func:`ssd` is the entry point: mamba-ssm's Triton kernel
(``mamba_chunk_scan_combined``) where :mod:`mgi.models.scan` resolves it, else
:func:`ssd_torch`; :func:`ssd_ref` is the sequential loop the tests compare against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mgi.models import scan as _scan

CHUNK = 64  # steps per chunk: T^2 intra-chunk terms vs (L / T)^2 inter-chunk ones


def ssd(x, dt, A, B, C, D=None, dt_bias=None, chunk: int = CHUNK):
    """The SSD scan by the path :mod:`mgi.models.scan` resolves for x's device.

    x: (batch, L, heads, headdim); dt: (batch, L, heads), raw: the step is softplus(dt + dt_bias);
    A: (heads,) negative; B, C: (batch, L, N); D, dt_bias: (heads,). Returns y like x.
    """
    if x.device.type == "cpu":
        return ssd_torch(x, dt, A, B, C, D, dt_bias, chunk)
    return _scan.resolve_scan(x.device, None, "mamba2").fn(x, dt, A, B, C, D, dt_bias, chunk)


def _prepare(x, dt, A, B, C, dt_bias):
    """Upcast to float32 (float64 stays); dt -> softplus(dt + dt_bias); checks shapes."""
    if x.dim() != 4 or dt.shape != x.shape[:3] or A.shape != x.shape[2:3]:
        raise ValueError(
            f"ssd: shapes x {tuple(x.shape)}, dt {tuple(dt.shape)}, A {tuple(A.shape)} do not "
            "match (batch, L, heads, headdim), (batch, L, heads), (heads,)"
        )
    if B.shape != C.shape or B.shape[:2] != x.shape[:2]:
        raise ValueError(f"ssd: B {tuple(B.shape)}, C {tuple(C.shape)} must be (batch, L, N)")
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    dt = dt.to(dtype) if dt_bias is None else dt.to(dtype) + dt_bias.to(dtype)
    return x.to(dtype), F.softplus(dt), A.to(dtype), B.to(dtype), C.to(dtype)


def _segsum(a: torch.Tensor) -> torch.Tensor:
    """(..., T) -> (..., T, T): [t, s] = a_{s+1} + ... + a_t for s <= t, -inf above.

    Summed from the masked values (not as a difference of cumsums), so it stays exact."""
    T = a.shape[-1]
    x = a[..., None].expand(*a.shape, T)  # [..., t, s] = a_t
    ones = torch.ones(T, T, dtype=torch.bool, device=a.device)
    x = torch.cumsum(x.masked_fill(~ones.tril(-1), 0), dim=-2)
    return x.masked_fill(~ones.tril(0), -torch.inf)


def ssd_torch(x, dt, A, B, C, D=None, dt_bias=None, chunk: int = CHUNK):
    """The chunked matmul SSD in PyTorch (any device); arguments as :func:`ssd`."""
    dtype = x.dtype
    with torch.autocast(x.device.type, enabled=False):
        x, dt, A, B, C = _prepare(x, dt, A, B, C, dt_bias)
        y = _chunked(x * dt[..., None], dt * A, B, C, chunk)
        if D is not None:
            y = y + x * D.to(y.dtype)[:, None]
    return y.to(dtype)


def _chunked(X, a, B, C, T: int) -> torch.Tensor:
    """X = dt x (b, L, h, p); a = dt A (b, L, h); B, C (b, L, n) -> Y (b, L, h, p)."""
    length = X.shape[1]
    pad = -length % T  # zero steps at the end: decay 1, input 0, outputs dropped
    X, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (X, B, C))
    a = F.pad(a, (0, 0, 0, pad))
    X = X.unflatten(1, (-1, T))  # b c T h p
    B, C = B.unflatten(1, (-1, T)), C.unflatten(1, (-1, T))  # b c T n
    a = a.unflatten(1, (-1, T)).permute(0, 3, 1, 2)  # b h c T
    a_cum = torch.cumsum(a, dim=-1)
    # 1. within chunks: Y[t] = sum_{s <= t} (C_t . B_s) L[t, s] X[s]
    scores = torch.einsum("bctn,bcsn->bcts", C, B)  # b c T T (shared by the heads)
    decay = torch.exp(_segsum(a))  # b h c T T
    y_diag = torch.einsum("bcts,bhcts,bcshp->bcthp", scores, decay, X)
    # 2. each chunk's final state (from its own inputs)
    to_end = torch.exp(a_cum[..., -1:] - a_cum)  # b h c T
    states = torch.einsum("bctn,bhct,bcthp->bchpn", B, to_end, X)
    # 3. states entering each chunk: a recurrence over chunks, as one masked matmul
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)  # b c+1 h p n
    chunk_decay = torch.exp(_segsum(F.pad(a_cum[..., -1], (1, 0))))  # b h c+1 c+1
    entering = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)[:, :-1]  # b c h p n
    # 4. their contribution to each chunk's outputs
    y_off = torch.einsum("bctn,bchpn,bhct->bcthp", C, entering, torch.exp(a_cum))
    return (y_diag + y_off).flatten(1, 2)[:, :length]


def ssd_ref(x, dt, A, B, C, D=None, dt_bias=None, chunk: int | None = None):
    """Sequential reference: a Python loop over L (``chunk`` ignored); arguments as :func:`ssd`."""
    dtype = x.dtype
    x, dt, A, B, C = _prepare(x, dt, A, B, C, dt_bias)
    h = x.new_zeros(x.shape[0], x.shape[2], x.shape[3], B.shape[-1])  # b h p n
    ys = []
    for t in range(x.shape[1]):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]  # b h 1 1
        inp = (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, None, None, :]  # b h p n
        h = decay * h + inp
        ys.append(torch.einsum("bhpn,bn->bhp", h, C[:, t]))
    y = torch.stack(ys, dim=1)
    if D is not None:
        y = y + x * D.to(y.dtype)[:, None]
    return y.to(dtype)


def ssd_triton(x, dt, A, B, C, D=None, dt_bias=None, chunk: int = CHUNK):
    """mamba-ssm's Triton ``mamba_chunk_scan_combined`` with :func:`ssd`'s arguments (CUDA)."""
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined

    dtype = x.dtype
    y = mamba_chunk_scan_combined(
        x,
        dt,
        A.float(),
        B[:, :, None],  # ngroups = 1
        C[:, :, None],
        chunk,
        D=None if D is None else D.float(),
        dt_bias=None if dt_bias is None else dt_bias.float(),
        dt_softplus=True,
    )
    return y.to(dtype)
