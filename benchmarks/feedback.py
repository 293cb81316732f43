"""The two numbers a newcomer meets first: the demo's wall time and the test suite's (issue 28).

Copies the workflow (tracked files only, as a fresh clone has them) into a temporary folder and
times, as whole processes on this machine:

- ``demo``: the README's first command without the install, ``snakemake --cores N`` on the
  default config, with the wall time of every job (Snakemake's ``benchmark:`` files) summed
  per rule;
- ``tests``: the README's second command without the install (``pytest -n N --dist loadfile``),
  with pytest's 30 slowest tests (``--durations=30``).

Run it on an idle machine: both are wall times. Targets on 2 cores: demo <= 300 s, tests <= 600 s.
Prints tables and writes ``benchmarks/results/feedback.csv`` (one row per measurement, appended,
with the git commit), ``feedback_rules.csv`` (the demo's per-rule times) and
``feedback_tests.csv`` (the slowest tests). It is a benchmark, not a timed test.

    python benchmarks/feedback.py                 # both
    python benchmarks/feedback.py --only demo
    python benchmarks/feedback.py --only tests --workers 2
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGETS = {"demo": 300.0, "tests": 600.0}
DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)$", re.M)
SUMMARY = re.compile(r"=+ (.*(?:passed|failed).*) in [\d.]+s", re.M)


def _commit() -> str:
    """The checkout's commit, ``+dirty`` when tracked files differ from it (what was timed)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO).returncode != 0
    return (done.stdout.decode().strip() or "unknown") + ("+dirty" if dirty else "")


def fresh_copy(dest: Path) -> Path:
    """The tracked files of the checkout (with uncommitted edits), as a clone would have them."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
            (dest / name).chmod(src.stat().st_mode)
    shared = REPO.parent / "shared"  # ../shared beside the checkout, as in CI
    if shared.is_dir() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(shared)
    return dest


def _timed(cmd: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    start = time.monotonic()
    with open(log, "w") as out:
        code = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    return time.monotonic() - start, code


def demo(work: Path, cores: int) -> tuple[dict, list[dict]]:
    """Time ``snakemake --cores N`` in ``work``; per-rule job seconds from the benchmark files."""
    bin_dir = Path(sys.executable).parent
    seconds, code = _timed([str(bin_dir / "snakemake"), "--cores", str(cores)], work,
                           work / "demo.log")  # fmt: skip
    per_rule: dict[str, list[float]] = {}
    for bench in sorted((work / "logs").rglob("*.bench.tsv")):
        with open(bench) as handle:
            row = list(csv.DictReader(handle, delimiter="\t"))[-1]
        name = str(bench.relative_to(work / "logs")).removesuffix(".bench.tsv")
        per_rule.setdefault(name, []).append(float(row["s"]))
    rules = [{"job": k, "seconds": round(sum(v), 1)} for k, v in per_rule.items()]
    rules.sort(key=lambda r: -r["seconds"])
    return {"what": "demo", "seconds": round(seconds, 1), "exit": code,
            "detail": f"snakemake --cores {cores}"}, rules  # fmt: skip


def tests(work: Path, workers: int, extra: list[str]) -> tuple[dict, list[dict]]:
    """Time the README's test command in ``work`` (which imports this checkout's package)."""
    cmd = [sys.executable, "-m", "pytest", "-n", str(workers), "--dist", "loadfile",
           "--durations=30", "-p", "no:cacheprovider", *extra]  # fmt: skip
    seconds, code = _timed(cmd, work, work / "tests.log")
    text = (work / "tests.log").read_text()
    slowest = [{"test": t, "phase": p, "seconds": float(s)} for s, p, t in DURATION.findall(text)]
    summary = SUMMARY.findall(text)
    detail = f"pytest -n {workers}: {summary[-1] if summary else '?'}"
    return {"what": "tests", "seconds": round(seconds, 1), "exit": code, "detail": detail}, slowest


def _write(path: Path, rows: list[dict], append: bool = False) -> None:
    if not rows:
        return
    new = not (append and path.exists())
    with open(path, "a" if append else "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["demo", "tests"])
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores")
    parser.add_argument("--workers", type=int, default=2, help="pytest -n")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (results)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mgi-feedback-") as tmp:
        tmp = args.keep or tmp
        if args.only in (None, "demo"):
            row, rules = demo(fresh_copy(Path(tmp) / "demo"), args.cores)
            rows.append(row)
            _write(RESULTS / "feedback_rules.csv", rules)
            print(_table(rules[:20]))
        if args.only in (None, "tests"):
            env_extra = shlex.split(args.pytest_args)
            row, slowest = tests(fresh_copy(Path(tmp) / "tests"), args.workers, env_extra)
            rows.append(row)
            _write(RESULTS / "feedback_tests.csv", slowest)
            print(_table(slowest[:30]) if slowest else "(no durations)")
    for row in rows:
        row.update(target_s=TARGETS[row["what"]], commit=_commit(), date=stamp,
                   cpus=os.cpu_count())  # fmt: skip
    _write(RESULTS / "feedback.csv", rows, append=True)
    print(_table(rows))
    return max(row["exit"] for row in rows)


if __name__ == "__main__":
    raise SystemExit(main())
