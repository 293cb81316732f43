"""The preflight's files: ``preflight.json`` (everything) and ``preflight.md`` (a summary)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mgi.atomic import write_text


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _clean(x: Any) -> Any:
    """JSON-ready: NaN -> null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def markdown(report: dict[str, Any]) -> str:
    env, est, co = report["environment"], report["estimate"], report["cohort"]
    lines = ["# Preflight", ""]
    lines.append("**" + ("PASS" if report["ok"] else "FAIL") + "**")
    lines += [f"- {f}" for f in report["failures"]]
    lines += ["", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    if "scan" in report:
        s = report["scan"]
        lines += ["", "## Gene encoder scan", ""]
        lines.append(
            f"- {s['scan'] or 'unavailable'} (block {s['block']}, scan {s['mode']}, "
            f"{s['device']}); parity vs the CPU reference: max abs error "
            f"{_num(s['parity_max_abs_err'])}"
        )
    lines += ["", "## Training jobs", ""]
    lines.append(
        f"Cohort: {co['patients']} patients, {co['slices']} slices, {co['tumour_slices']} with "
        f"tumour ({co['source']}); {co['genes']} genes; {co['training_share']:.2f} of it trains "
        f"per fold; {co['folds']} fold(s)."
    )
    lines += [
        "",
        "| job | batch | steps/s | items/s (model) | items/s (loader, workers) | peak memory MB "
        "| steps per run | runs | device-hours (all runs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for j in report["jobs"]:
        loader = f"{_num(j.get('loader_items_per_s'))} ({j.get('workers', '-')})"
        if j.get("loader_bound"):
            loader += " **loader-bound**"
        lines.append(
            f"| {j['job']} | {j.get('batch_size', '-')} | {_num(j.get('steps_per_s'))} "
            f"| {_num(j.get('model_items_per_s'))} | {loader} | {_num(j.get('peak_memory_mb'), 5)} "
            f"| {j['steps_per_run']} | {j['runs']} | {_num(j['hours'])} |"
        )
    lines += [
        "",
        f"**Estimated wall time of the whole run: {_num(est['wall_hours'])} h** "
        f"({_num(est['device_hours'])} device-hours over {est['gpus']} device(s); {est['note']}).",
        "",
    ]
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "preflight.json", out / "preflight.md"
    write_text(js, json.dumps(_clean(report), indent=2) + "\n")
    write_text(md, markdown(report))
    return js, md
