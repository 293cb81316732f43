"""Compare the outputs of two runs of the workflow (e.g. local vs SLURM) file by file.

Numbers must agree within a tolerance; what legitimately differs between two runs is left out:
provenance time stamps and host names, wall-clock columns (seconds, durations), and the bytes of
rendered figures (PNG/PDF/HTML: only that both exist and are not empty), and the inputs'
modification times in the training provenance (``inputs: {path: [size, mtime_ns]}``; only the
sizes are compared) with the ``config_hash`` computed over them.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Keys/columns whose values are about when/where a run happened, not what it computed.
VOLATILE = re.compile(
    r"(created|time|seconds|duration|elapsed|host|wall|date|_s$|^config_hash$)", re.I
)
# Files whose bytes are not results: Snakemake's directory stamps.
SKIP = {".snakemake_timestamp"}
RENDERED = (".png", ".pdf", ".svg", ".html", ".jpg")
RTOL, ATOL = 1e-4, 1e-5


def output_files(root: Path, folders=("results", "resources")) -> set[str]:
    """Relative paths of every file under ``root/<folder>`` for the given folders."""
    found = set()
    for folder in folders:
        for path in (root / folder).rglob("*"):
            if path.is_file() and path.name not in SKIP:
                found.add(str(path.relative_to(root)))
    return found


def _frame(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    return frame[[c for c in frame.columns if not VOLATILE.search(str(c))]]


def _same_value(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        problems = []
        for key in sorted(set(a) | set(b), key=str):
            if VOLATILE.search(str(key)):
                continue
            if key not in a or key not in b:
                problems.append(f"{where}.{key}: only in one run")
            elif key == "inputs" and isinstance(a[key], dict):  # {path: [size, mtime_ns]}
                sizes = [{k: v[0] for k, v in x[key].items()} for x in (a, b)]
                problems += _same_value(*sizes, f"{where}.{key}")
            else:
                problems += _same_value(a[key], b[key], f"{where}.{key}")
        return problems
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{where}: lengths {len(a)} != {len(b)}"]
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in _same_value(x, y, f"{where}[{i}]")
        ]
    if _is_array(a) and _is_array(b):
        return _same_array(np.asarray(_numpy(a)), np.asarray(_numpy(b)), where)
    if isinstance(a, float | int) and isinstance(b, float | int):
        if math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b)):
            return []
        return [f"{where}: {a} != {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or type(x).__name__ == "Tensor"


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().float().numpy() if type(x).__name__ == "Tensor" else x


def _same_array(a: np.ndarray, b: np.ndarray, where: str) -> list[str]:
    if a.shape != b.shape:
        return [f"{where}: shapes {a.shape} != {b.shape}"]
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a, b = a.astype(np.float64), b.astype(np.float64)
        if np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
            return []
        return [f"{where}: max |difference| {np.nanmax(np.abs(a - b)):.3g}"]
    return [] if np.array_equal(a, b) else [f"{where}: {int((a != b).sum())} elements differ"]


def compare_file(a: Path, b: Path) -> list[str]:
    """Problems found comparing two versions of one output (empty list: they agree)."""
    name = a.name
    if name.endswith(RENDERED):
        return [] if a.stat().st_size and b.stat().st_size else [f"{name}: empty"]
    if a.suffix in (".tsv", ".csv", ".parquet"):
        fa, fb = _frame(a), _frame(b)
        try:
            pd.testing.assert_frame_equal(fa, fb, check_exact=False, rtol=RTOL, atol=ATOL)
        except AssertionError as err:
            return [f"{a}: {err}"]
        return []
    if a.suffix == ".npy":
        return _same_array(np.load(a), np.load(b), str(a))
    if a.suffix == ".npz":
        with np.load(a) as za, np.load(b) as zb:
            return _same_value(dict(za), dict(zb), str(a))
    if a.suffix == ".json":
        return _same_value(json.loads(a.read_text()), json.loads(b.read_text()), str(a))
    if name.endswith((".nii", ".nii.gz")):
        import nibabel

        return _same_array(nibabel.load(a).get_fdata(), nibabel.load(b).get_fdata(), str(a))
    if a.suffix in (".pt", ".pth"):
        import torch

        load = {"map_location": "cpu", "weights_only": False}
        return _same_value(torch.load(a, **load), torch.load(b, **load), str(a))
    # Anything else (text, markdown): the same lines, apart from lines naming a time or host.
    lines = [[x for x in p.read_text().splitlines() if not VOLATILE.search(x)] for p in (a, b)]
    return [] if lines[0] == lines[1] else [f"{a}: text differs"]


def compare_runs(a: Path, b: Path) -> tuple[set[str], list[str]]:
    """(files compared, problems) for the outputs of two run folders."""
    files_a, files_b = output_files(a), output_files(b)
    problems = [f"only in {a}: {f}" for f in sorted(files_a - files_b)]
    problems += [f"only in {b}: {f}" for f in sorted(files_b - files_a)]
    for rel in sorted(files_a & files_b):
        problems += compare_file(a / rel, b / rel)
    return files_a & files_b, problems
