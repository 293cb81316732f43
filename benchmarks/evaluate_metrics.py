"""Benchmark the per-patient metrics (issue 7) at kaggle_3m-like sizes.

Times :func:`mgi.metrics.patient_metrics` (three Dice definitions + MONAI HD95) on one
patient's stack of ``--slices`` slices at several in-plane sizes, a shifted ellipsoid as the
prediction, and the one-off ``import monai`` cost paid by every evaluation job. Prints a table
and writes ``benchmarks/results/evaluate_metrics.csv``. No target: this says where the time of
``rule evaluate_run`` goes (kaggle_3m: ~36 slices per patient, ~22 test patients).

    python benchmarks/evaluate_metrics.py --slices 36 --sizes 64 128 256
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "evaluate_metrics.csv"


def ellipsoid(slices: int, size: int, shift: int = 0) -> np.ndarray:
    """(slices, size, size) bool ellipsoid filling about a fifth of the volume's width."""
    z, y, x = np.ogrid[:slices, :size, :size]
    r = ((z - slices / 2) / (slices / 4)) ** 2 + ((y - size / 2) / (size / 8)) ** 2
    return r + ((x - size / 2 - shift) / (size / 6)) ** 2 <= 1


def import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import monai.metrics; print(time.perf_counter() - t)"
    )
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


def main() -> None:
    from mgi.metrics import patient_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=36)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [{"case": "import monai.metrics", "seconds": import_seconds()}]
    patient_metrics(ellipsoid(4, 16, 1), ellipsoid(4, 16))  # warm-up
    for size in args.sizes:
        target, pred = ellipsoid(args.slices, size), ellipsoid(args.slices, size, size // 32)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            m = patient_metrics(pred, target)
            times.append(time.perf_counter() - t)
        rows.append({"case": f"patient {args.slices}x{size}x{size}", "seconds": min(times),
                     "dice": m["dice"], "hd95": m["hd95"]})  # fmt: skip
    table = pd.DataFrame(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS, index=False)
    print(table.to_string(index=False, float_format="%.4g"))


if __name__ == "__main__":
    main()
