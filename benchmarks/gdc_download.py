"""Benchmark: GDC download throughput (files/s, MB/s) against a local GDC stand-in.

Serves ``--files`` files of ``--size-mb`` MB from tests/gdc_server.py on 127.0.0.1 and downloads
them with :func:`mgi.gdc.download_project` for each ``--processes`` value, into a fresh folder each
time; then a rerun over the last folder (every file verified by md5, nothing fetched). The server
runs in this process, so the figures are a floor set by Python + loopback, not by the GDC.

    .venv/bin/python benchmarks/gdc_download.py                      # 500 files x 4 MB, 1 and 4
    .venv/bin/python benchmarks/gdc_download.py --files 50 --size-mb 1
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from gdc_server import Body, FakeFile, FakeGDC  # noqa: E402

from mgi.gdc import RetryPolicy, download_project  # noqa: E402


def make_files(n: int, size: int) -> list[FakeFile]:
    files = []
    for k in range(n):
        fid = str(uuid.UUID(int=k + 1, version=4))
        files.append(
            FakeFile(
                file_id=fid,
                file_name=f"{fid}.rna_seq.augmented_star_gene_counts.tsv",
                body=Body(size=size, seed=k),
                case_id=str(uuid.UUID(int=100_000 + k, version=4)),
                case_submitter_id=f"TCGA-XX-{k:04d}",
                sample_submitter_id=f"TCGA-XX-{k:04d}-01A",
            )
        )
    return files


def run(gdc: FakeGDC, out: Path, processes: int) -> tuple[float, int]:
    """Seconds for one download_project call, and the number of /data requests it made."""
    before = len(gdc.data_requests())
    start = time.perf_counter()
    download_project(out, api_url=gdc.url, processes=processes, policy=RetryPolicy(tries=3))
    return time.perf_counter() - start, len(gdc.data_requests()) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workdir", default=None, help="download folder parent (default: tmp)")
    parser.add_argument("--csv", default=str(REPO / "benchmarks/results/gdc_download.csv"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    size = int(args.size_mb * 1e6)
    files = make_files(args.files, size)
    total_mb = args.files * size / 1e6
    rows = []
    work = Path(tempfile.mkdtemp(prefix="gdc_bench_", dir=args.workdir))
    try:
        with FakeGDC(files) as gdc:
            for i, processes in enumerate(args.processes):
                out = work / f"p{processes}"
                seconds, gets = run(gdc, out, processes)
                rows.append(("download", processes, seconds, gets))
                if i + 1 < len(args.processes):
                    shutil.rmtree(out)
            seconds, gets = run(gdc, out, args.processes[-1])
            rows.append(("rerun (verify only)", args.processes[-1], seconds, gets))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = [
        {
            "mode": mode,
            "files": args.files,
            "size_mb": args.size_mb,
            "processes": p,
            "seconds": round(s, 2),
            "files_per_s": round(args.files / s, 1),
            "mb_per_s": round(total_mb / s, 1),
            "data_requests": gets,
        }
        for mode, p, s, gets in rows
    ]
    print(f"GDC download, {args.files} files x {args.size_mb} MB = {total_mb:.0f} MB, local server")
    print(f"{'mode':<20} {'proc':>4} {'s':>8} {'files/s':>8} {'MB/s':>8} {'GETs':>6}")
    for r in table:
        print(
            f"{r['mode']:<20} {r['processes']:>4} {r['seconds']:>8} {r['files_per_s']:>8} "
            f"{r['mb_per_s']:>8} {r['data_requests']:>6}"
        )
    path = Path(args.csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
