"""Benchmark the expression build on a GDC-sized cohort (issue 4).

Generates ``--files`` STAR-Counts TSVs x ``--genes`` genes in the real format (the demo's
writer, ~4.2 MB per file at 60,660 genes, ~2.2 GB for 530 files) under a temporary folder,
then times, each in a fresh subprocess (so peak RSS is per method):

- ``raw cold`` / ``raw warm``: reading every file's bytes (page cache dropped per file with
  ``posix_fadvise(DONTNEED)`` for cold; no root-wide ``drop_caches``),
- ``ours cold`` / ``ours warm``: ``mgi.expression.build_matrix`` (parse, validate, log2, write),
  and ``ours warm (1 worker)``: the same, one thread (the sequential pyarrow loop),
- ``naive``: per-file ``pandas.read_csv`` + ``pandas.concat`` (warm cache),

then, timed as whole processes (start-up and imports included, warm cache, median of
``--repeats``): ``mgi --help``, ``mgi expression build`` (the CLI) and the naive loop as a
script, parse only and also writing its matrix with ``to_parquet`` (issue 16: CLI >= 5x naive
at 120 and 530 files; ``expression_build_process_<files>.csv``),
and, with ``--layouts``, writing/reading the (cases x genes) float32 matrix (median of
``--repeats``) as ``fixed_size_list<float32>`` (``mgi.expression``'s layout), a long table
``case_id, gene_id, value`` (dictionary-encoded), the previous opaque row-binary layout and a wide
table (one column per gene) -> ``expression_layouts.csv``. Target: read <= 0.5 s, write <= 1 s.
Prints a table and writes ``benchmarks/results/expression_build.csv``. Targets (2-core machine):
ours >= 5x naive, >= 500 MB/s parsed, peak RSS <= 1 GB.

    python benchmarks/expression_build.py                      # full size, ~2.2 GB on disk
    python benchmarks/expression_build.py --files 40 --genes 5000
    python benchmarks/expression_build.py --files 120 --only-process   # the CLI vs naive only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "expression_build.csv"
TEMPLATES = 8  # distinct file bodies; files cycle through them (parsing cost is identical)


def generate(root: Path, n_files: int, n_genes: int, seed: int = 0) -> int:
    """Write ``files.tsv`` + ``<file_id>/<file_name>`` under ``root``; returns total TSV bytes."""
    import numpy as np
    import pandas as pd

    from mgi.synthetic import DemoSpec, gene_table, log_expression, star_counts_table

    rng = np.random.default_rng(seed)
    spec = DemoSpec(patients=TEMPLATES, genes=n_genes, module_genes=min(150, n_genes // 4))
    genes = gene_table(n_genes, rng)
    lengths = np.exp(rng.normal(7.5, 0.8, size=n_genes)).round() + 50
    logx = log_expression(spec, rng.standard_normal((TEMPLATES, 3)), rng)
    texts = [star_counts_table(genes, logx[i], lengths, rng).encode() for i in range(TEMPLATES)]
    rows, total = [], 0
    for i in range(n_files):
        fid, name = f"bench-{i:05d}", f"{i:05d}.rna_seq.augmented_star_gene_counts.tsv"
        (root / fid).mkdir(parents=True)
        (root / fid / name).write_bytes(texts[i % TEMPLATES])
        total += len(texts[i % TEMPLATES])
        case = f"TCGA-BM-{i:04d}"
        rows.append((fid, name, case, f"{case}-01A", "Primary Tumor"))
    cols = ["file_id", "file_name", "case_submitter_id", "sample_submitter_id", "sample_type"]
    pd.DataFrame(rows, columns=cols).to_csv(root / "files.tsv", sep="\t", index=False)
    os.sync()  # dirty pages cannot be dropped: flush before any cold run
    return total


def tsv_paths(root: Path) -> list[Path]:
    return sorted(root.glob("bench-*/*.tsv"))


def drop_cache(paths: list[Path]) -> None:
    """Evict the files from the page cache (per file; needs no root)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: per address space, so unaffected by the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def naive(paths: list[Path]):
    """Per-file pandas.read_csv + concat: the obvious way."""
    import numpy as np
    import pandas as pd

    cols = []
    for p in paths:
        df = pd.read_csv(p, sep="\t", skiprows=1)
        df = df[~df.gene_id.str.startswith("N_")].set_index("gene_id")
        cols.append(df["tpm_unstranded"].rename(p.parent.name))
    return np.log2(pd.concat(cols, axis=1).T.astype("float32") + 1)


def child(method: str, root: Path, workers: int) -> dict:
    """Run one method in this (fresh) process; returns seconds (imports excluded), peak RSS."""
    import pandas as pd  # noqa: F401 - imported before the clock starts, for every method

    from mgi.expression import ExpressionOptions, build_matrix

    paths = tsv_paths(root)
    if method.endswith("cold"):
        drop_cache(paths)
    start, cpu0 = time.perf_counter(), time.process_time()
    if method.startswith("raw"):
        assert sum(len(p.read_bytes()) for p in paths) > 0
    elif method.startswith("ours"):
        out = root.parent / "out" / "matrix.parquet"
        n = 1 if "1 worker" in method else workers
        build_matrix(root, out, options=ExpressionOptions(workers=n))
    elif method == "naive":
        assert naive(paths).shape[0] == len(paths)
    return {
        "method": method,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu0,  # all threads; robust to a busy machine
        "peak_rss_mb": peak_rss_mb(),
    }


def layouts(n: int, g: int, tmp: Path, repeats: int = 3) -> list[dict]:
    """Median write/read time of Parquet layouts of an (n, g) float32 matrix."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mgi.expression.matrix_io import read_matrix, write_matrix

    x = np.random.default_rng(0).gamma(0.5, 3, size=(n, g)).astype(np.float32)
    genes = [f"ENSG{i:011d}.1" for i in range(g)]
    cases = [f"TCGA-BM-{i:04d}" for i in range(n)]

    def wide_w(p):
        cols = [pa.array(cases)] + [pa.array(x[:, j]) for j in range(g)]
        pq.write_table(pa.Table.from_arrays(cols, names=["case_id", *genes]), p)

    def wide_r(p):
        return pq.read_table(p).to_pandas().set_index("case_id")

    def long_w(p):
        ci = pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(n, dtype=np.int32), g)), pa.array(cases)
        )
        gi = pa.DictionaryArray.from_arrays(
            pa.array(np.tile(np.arange(g, dtype=np.int32), n)), pa.array(genes)
        )
        table = pa.table({"case_id": ci, "gene_id": gi, "value": pa.array(x.ravel())})
        pq.write_table(table, p, compression="none", write_statistics=False, row_group_size=g * 64)

    def long_r(p):  # assumes the written order (a real reader would pivot by the indices)
        t = pq.read_table(p, read_dictionary=["case_id", "gene_id"])
        return t.column("value").to_numpy().reshape(n, g)

    def binary_w(p):  # the previous layout (row-binary-float32-le/1)
        offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int64) * (g * 4))
        blobs = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), n, [None, offsets, pa.py_buffer(x)]
        )
        table = pa.table({"case_id": cases, "values": blobs})
        pq.write_table(table, p, compression="none", use_dictionary=False, write_statistics=False)

    def binary_r(p):
        chunk = pq.read_table(p).column("values").combine_chunks()
        return np.frombuffer(chunk.buffers()[2], np.float32, n * g).reshape(n, g)

    def ours_w(p):
        write_matrix(p, x, cases, genes)

    rows = []
    candidates = [
        ("fixed_size_list<float32> (ours)", ours_w, read_matrix),
        ("long case_id,gene_id,value (dict)", long_w, long_r),
        ("row-binary (previous, opaque)", binary_w, binary_r),
        ("wide (1 column/gene)", wide_w, wide_r),
    ]
    for name, w, r in candidates:
        p = tmp / f"layout-{len(rows)}.parquet"
        writes, reads = [], []
        for _ in range(repeats if "wide" not in name else 1):  # wide: ~15 s a round
            t0 = time.perf_counter()
            w(p)
            t1 = time.perf_counter()
            r(p)
            reads.append(time.perf_counter() - t1)
            writes.append(t1 - t0)
        rows.append(
            {
                "layout": name,
                "write_s": statistics.median(writes),
                "read_s": statistics.median(reads),
                "write_runs": " ".join(f"{v:.3f}" for v in writes),
                "read_runs": " ".join(f"{v:.3f}" for v in reads),
                "mb": p.stat().st_size / 1e6,
            }
        )
        p.unlink()
    return rows


NAIVE_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
from expression_build import naive, tsv_paths
matrix = naive(tsv_paths(Path({root!r})))
{write}
"""


def processes(root: Path, tmp: Path, repeats: int, workers: int) -> list[dict]:
    """Wall time of whole processes (imports included): mgi --help, the CLI build, naive."""
    mgi = [sys.executable, "-m", "mgi.cli"]
    bench, out = str(Path(__file__).resolve().parent), tmp / "proc"
    commands = {
        "mgi --help": [*mgi, "--help"],
        "mgi expression build": [
            *mgi,
            "expression",
            "build",
            "--gdc-dir",
            str(root),
            "--out",
            str(out / "matrix.parquet"),
            "--workers",
            str(workers),
        ],
        "naive pandas loop (script)": [  # parse only: no write, the strict baseline
            sys.executable,
            "-c",
            NAIVE_SCRIPT.format(bench=bench, root=str(root), write=""),
        ],
        "naive loop + to_parquet (script)": [  # a naive *build*: also writes its matrix
            sys.executable,
            "-c",
            NAIVE_SCRIPT.format(
                bench=bench, root=str(root), write=f"matrix.to_parquet({str(out / 'n.parquet')!r})"
            ),
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(commands["mgi --help"], capture_output=True, check=True)  # warm the caches
    rows = []
    for name, cmd in commands.items():
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            runs.append(time.perf_counter() - t0)
        rows.append(
            {
                "process": name,
                "seconds": statistics.median(runs),
                "runs": " ".join(f"{v:.2f}" for v in runs),
            }
        )
    naive_s, build_s = rows[-2]["seconds"], rows[-1]["seconds"]
    for row in rows:
        row["speedup_vs_naive"] = naive_s / row["seconds"]
        row["speedup_vs_naive_build"] = build_s / row["seconds"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=530)
    ap.add_argument("--genes", type=int, default=60660)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--tmp", default=None, help="parent of the temporary folder")
    ap.add_argument("--layouts", action="store_true", help="also compare Parquet layouts")
    ap.add_argument("--repeats", type=int, default=3, help="runs per process/layout figure")
    ap.add_argument(
        "--only-process", action="store_true", help="only the whole-process CLI vs naive figures"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.root), args.workers)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="mgi-expr-bench-", dir=args.tmp))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    import pandas as pd

    root = tmp / "gdc"
    t0 = time.perf_counter()
    total = generate(root, args.files, args.genes)
    print(
        f"generated {args.files} files x {args.genes} genes, {total / 1e9:.2f} GB "
        f"in {time.perf_counter() - t0:.0f} s; workers={args.workers}"
    )
    load = os.getloadavg()[0]
    proc = pd.DataFrame(processes(root, tmp, args.repeats, args.workers))
    proc["files"], proc["genes"], proc["workers"], proc["cpus"] = (
        args.files,
        args.genes,
        args.workers,
        os.cpu_count(),
    )
    proc["loadavg_before"], proc["loadavg_after"] = load, os.getloadavg()[0]
    proc_csv = RESULTS.with_name(f"expression_build_process_{args.files}.csv")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    proc.to_csv(proc_csv, index=False, float_format="%.4g")
    print(proc.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"-> {proc_csv}")
    if args.only_process:
        return
    results = []
    load = os.getloadavg()[0]
    methods = ["raw cold", "raw warm", "ours cold", "ours warm", "ours warm (1 worker)", "naive"]
    for method in methods:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            method,
            "--root",
            str(root),
            "--workers",
            str(args.workers),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    table = pd.DataFrame(results)
    table["mb_per_s"] = total / 1e6 / table.seconds
    naive = table.set_index("method").seconds["naive"]
    table["speedup_vs_naive"] = naive / table.seconds
    for key, value in {
        "files": args.files,
        "genes": args.genes,
        "bytes": total,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "loadavg_before": load,
        "loadavg_after": os.getloadavg()[0],
    }.items():
        table[key] = value
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS, index=False, float_format="%.4g")
    print(
        table[
            ["method", "seconds", "cpu_seconds", "mb_per_s", "speedup_vs_naive", "peak_rss_mb"]
        ].to_string(index=False, float_format=lambda v: f"{v:.2f}")
    )
    if args.layouts:
        lay = pd.DataFrame(layouts(args.files, args.genes, tmp, args.repeats))
        lay.to_csv(RESULTS.with_name("expression_layouts.csv"), index=False, float_format="%.4g")
        print(lay.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"load average (1 min) before/after: {load:.2f}/{os.getloadavg()[0]:.2f}")
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
