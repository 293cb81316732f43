"""Mamba mixers and the residual block (no inference cache).

* :class:`Mamba` (``model.genes.block: mamba1``), after ``mamba_ssm/modules/mamba_simple.py``:
  parameter names follow mamba_simple (in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj),
  so the same weights run through mamba_ssm's CUDA kernel or our chunked scan
  (:func:`mgi.models.ssm.selective_scan` picks the path).
* :class:`Mamba2` (``block: mamba2``), after ``mamba_ssm/modules/mamba2_simple.py`` with one
  group: a scalar decay per head and the SSD scan (:mod:`mgi.models.ssd`), names as there
  (in_proj, conv1d, dt_bias, A_log, D, norm, out_proj).

Each mixer class names its scan (``ssm_block``), so :func:`mgi.models.scan.check_scan` finds it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mgi.models.ssd import ssd
from mgi.models.ssm import selective_scan


class Mamba(nn.Module):
    """One selective-SSM mixer: (B, L, d_model) -> (B, L, d_model)."""

    ssm_block = "mamba1"

    def __init__(
        self,
        *,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.d_state = d_state
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        # S4D-real initialisation of A and the dt bias, as mamba_simple does
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))  # d_inner x d_state
        self.D = nn.Parameter(torch.ones(self.d_inner))
        dt = torch.exp(
            torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        ).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d_model) -> (B, L, d_model)."""
        length = hidden.shape[1]
        xz = self.in_proj(hidden).transpose(1, 2)  # B x 2*d_inner x L
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :length])  # causal depthwise conv
        x_dbl = self.x_proj(x.transpose(1, 2))  # B x L x (dt_rank + 2N)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (dt @ self.dt_proj.weight.t()).transpose(1, 2)  # B x d_inner x L (bias in the scan)
        A = -torch.exp(self.A_log.float())
        y = selective_scan(
            x,
            dt,
            A,
            B.transpose(1, 2).contiguous(),
            C.transpose(1, 2).contiguous(),
            self.D.float(),
            z=z,
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
        )
        return self.out_proj(y.transpose(1, 2))


class GatedRMSNorm(nn.Module):
    """``rmsnorm(x * silu(z)) * weight`` (mamba2's RMSNormGated, norm after the gate)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x, z: (..., dim) -> (..., dim)."""
        return F.rms_norm(x * F.silu(z), (x.shape[-1],), self.weight, self.eps)


class Mamba2(nn.Module):
    """One Mamba-2 (SSD) mixer with ``heads`` heads and one B/C group: (B, L, d) -> (B, L, d)."""

    ssm_block = "mamba2"

    def __init__(
        self,
        *,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        heads: int = 8,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        if self.d_inner % heads:
            raise ValueError(
                f"mamba2: model.genes.heads ({heads}) must divide expand * d_model ({self.d_inner})"
            )
        self.heads, self.d_state = heads, d_state
        conv_dim = self.d_inner + 2 * d_state  # x, B, C pass the causal conv together
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + heads, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1)
        dt = torch.exp(
            torch.rand(heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        ).clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.empty(heads).uniform_(1, 16)))  # mamba2's range
        self.D = nn.Parameter(torch.ones(heads))
        self.norm = GatedRMSNorm(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d_model) -> (B, L, d_model)."""
        batch, length, _ = hidden.shape
        n = self.d_state
        z, xbc, dt = torch.split(
            self.in_proj(hidden), [self.d_inner, self.d_inner + 2 * n, self.heads], dim=-1
        )
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2))[..., :length]).transpose(1, 2)
        x, B, C = torch.split(xbc, [self.d_inner, n, n], dim=-1)
        y = ssd(
            x.unflatten(-1, (self.heads, -1)),
            dt,
            -torch.exp(self.A_log.float()),
            B,
            C,
            self.D.float(),
            dt_bias=self.dt_bias.float(),
        )
        return self.out_proj(self.norm(y.flatten(-2), z))


MIXERS = {"mamba1": Mamba, "mamba2": Mamba2}


class BiMamba(nn.Module):
    """Two mixers, one reading the sequence forwards and one backwards; outputs summed.

    Gene order has no direction, so each token should see every gene: with one causal scan the
    first token would see only itself. ``block``: mamba1 (:class:`Mamba`) or mamba2.
    """

    def __init__(self, block: str = "mamba1", **mamba_kwargs) -> None:
        super().__init__()
        self.forward_mixer = MIXERS[block](**mamba_kwargs)
        self.backward_mixer = MIXERS[block](**mamba_kwargs)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d_model) -> (B, L, d_model)."""
        back = self.backward_mixer(hidden.flip(1)).flip(1)
        return self.forward_mixer(hidden) + back


class ResidualBlock(nn.Module):
    """Pre-norm residual block: x + mixer(norm(x)) (mamba's Block, without the fused add-norm)."""

    def __init__(self, *, mixer: nn.Module, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mixer = mixer

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, dim) -> (B, L, dim)."""
        return hidden + self.mixer(self.norm(hidden))
