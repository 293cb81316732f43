"""Gene-encoder benchmark: forward+backward time and peak memory vs sequence length, on the CPU.

One token per gene (patch_size 1), so L = number of genes. Encoders, all with the same d_model,
depth, batch and tokenizer (value + gene-identity embedding):

* ``mamba``: our Mamba blocks, one direction, chunked CPU scan (mgi.models.ssm);
* ``mamba_bi``: the default bidirectional Mamba (two scans per block);
* ``mamba2``, ``mamba2_bi``: the same with ``block: mamba2`` (Mamba-2's SSD in its chunked
  matmul form, mgi.models.ssd; 4 heads);
* ``mambapy``: PyPI ``mambapy`` (pure-PyTorch pscan over the whole (B, L, D, N)), the anchor;
* ``transformer`` (SDPA), ``group_attention`` (GiMP-style), ``mlp``.

Each (encoder, L) runs in a fresh subprocess (peak RSS = that process's ru_maxrss, including
~0.3 GB of torch itself), one thread, under an address-space limit (``--mem-gb``) and a time
limit (``--timeout``): a run that exceeds either is reported as ``oom``/``timeout``.

    .venv/bin/python benchmarks/gene_encoders.py                      # 1k, 4k, 16k, 60,660
    .venv/bin/python benchmarks/gene_encoders.py --lengths 1024 4096  # quick
    .venv/bin/python benchmarks/gene_encoders.py --encoders mamba mamba_bi mamba2 mamba2_bi \
        --lengths 1024 4096 16384 --csv gene_blocks.csv                   # mamba1 vs mamba2

Prints a table and writes benchmarks/results/gene_encoders.csv. Targets: ``mamba`` at least as
fast as ``mambapy``; t(60,660) / t(16,384) <= 4.2 for ``mamba``; ``mamba`` at L = 60,660 with
peak RSS <= 8 GB at batch 2.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ENCODERS = (
    "mamba",
    "mamba_bi",
    "mamba2",
    "mamba2_bi",
    "mambapy",
    "transformer",
    "group_attention",
    "mlp",
)


def build(name: str, n_genes: int, d_model: int, layers: int, d_state: int):
    """The encoder ``name`` as a module (B, G) -> (B, L, d_model)."""
    import torch

    from mgi.models import build_gene_encoder
    from mgi.models.gene_encoder import GeneTokenizer

    opts = dict(d_model=d_model, layers=layers, d_state=d_state, patch_size=1, heads=4)
    if name in ("mamba", "mamba_bi", "mamba2", "mamba2_bi"):
        block = "mamba2" if name.startswith("mamba2") else "mamba1"
        bidirectional = name.endswith("_bi")
        return build_gene_encoder(
            "mamba", n_genes=n_genes, bidirectional=bidirectional, block=block, **opts
        )
    if name == "mambapy":
        from mambapy.mamba import Mamba, MambaConfig

        config = MambaConfig(d_model=d_model, n_layers=layers, d_state=d_state, pscan=True)
        tokenizer = GeneTokenizer(n_genes=n_genes, dim=d_model)
        return torch.nn.Sequential(tokenizer, Mamba(config))
    return build_gene_encoder(name, n_genes=n_genes, **opts)


def child(args: argparse.Namespace) -> None:
    """Time ``args.encoder`` at ``args.length`` in this process; print one JSON line."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build(args.encoder, args.length, args.d_model, args.layers, args.d_state)
    x = torch.randn(args.batch, args.length)
    repeats = args.repeats or (3 if args.length <= 4096 else 2 if args.length <= 16384 else 1)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x).square().mean().backward()
        times.append(time.perf_counter() - t)
        model.zero_grad(set_to_none=True)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": min(times), "peak_rss_gb": rss_gb}))


def run_one(args: argparse.Namespace, encoder: str, length: int) -> dict:
    """One (encoder, length) in a subprocess under the memory and time limits."""
    cmd = [sys.executable, __file__, "--child", encoder, str(length), "--batch", str(args.batch),
           "--d-model", str(args.d_model), "--layers", str(args.layers),
           "--d-state", str(args.d_state), "--repeats", str(args.repeats)]  # fmt: skip
    limit = int(args.mem_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    row = {"encoder": encoder, "length": length, "seconds": None, "peak_rss_gb": None}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                              preexec_fn=cap)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {**row, "status": "timeout"}
    if done.returncode != 0:
        oom = "memory" in done.stderr.lower() or "alloc" in done.stderr.lower()
        return {**row, "status": "oom" if oom else f"error: {done.stderr.strip()[-200:]}"}
    return {**row, **json.loads(done.stdout.strip().splitlines()[-1]), "status": "ok"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384, 60660])
    p.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--mem-gb", type=float, default=12.0, help="address-space limit per run")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    p.add_argument(
        "--repeats", type=int, default=0, help="timed runs (min reported); 0: 3/2/1 by L"
    )
    p.add_argument("--csv", default="gene_encoders.csv", help="file name under benchmarks/results")
    p.add_argument("--child", nargs=2, metavar=("ENCODER", "LENGTH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.encoder, args.length = args.child[0], int(args.child[1])
        child(args)
        return
    rows = []
    for length in args.lengths:
        for encoder in args.encoders:
            rows.append(run_one(args, encoder, length))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.insert(2, "batch", args.batch)
    table.insert(3, "d_model", args.d_model)
    table.insert(4, "layers", args.layers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / args.csv, index=False)
    wide = table.pivot(index="encoder", columns="length", values="seconds")
    print("\nforward+backward seconds (1 thread; blank: oom/timeout):")
    print(wide.round(3).to_string())
    print("\npeak RSS GB:")
    print(table.pivot(index="encoder", columns="length", values="peak_rss_gb").round(2).to_string())
    if {16384, 60660} <= set(args.lengths) and "mamba" in args.encoders:
        ratio = wide.loc["mamba", 60660] / wide.loc["mamba", 16384]
        print(f"\nmamba t(60,660) / t(16,384) = {ratio:.2f} (target <= 4.2)")


if __name__ == "__main__":
    main()
