"""Paper-scale step benchmark: one forward + backward step of every model of a config at its
real shapes (batch 2 by default, the config's image size and gene count) on this machine, each
model in its own process so its peak RSS is its own.

    .venv/bin/python benchmarks/paper_scale_step.py                       # configs/tcga-lgg.yaml
    .venv/bin/python benchmarks/paper_scale_step.py --models mgi unet --batch 1

Prints a table and writes benchmarks/results/paper_scale_step.csv: build and step seconds (the
second of two steps, so allocations and lazy initialisation are not counted; the first step's
time is in `first_step_s`), parameters and peak RSS per model. A CPU figure: it shows that
shapes fit and how memory scales, not GPU speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mgi.train import shapes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Table 1's models, then the gene-encoder ablation's pre-trainings.
MODELS = [*shapes.MODELS, "pretrain:transformer", "pretrain:group_attention", "pretrain:mlp"]
CHILD = """
import json, resource, sys, torch
import mgi.config
from mgi.train import shapes
torch.set_num_threads({threads})
config = mgi.config.load([{config!r}])
first = shapes.step(config, {model!r}, batch={batch})
out = shapes.step(config, {model!r}, batch={batch})
out["first_step_s"] = first["step_s"]
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def run_one(config: Path, model: str, batch: int, threads: int) -> dict:
    code = CHILD.format(config=str(config), model=model, batch=batch, threads=threads)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"model": model, "error": done.stderr.strip().splitlines()[-1]}
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tcga-lgg.yaml")
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "paper_scale_step.csv")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        row = run_one(args.config, model, args.batch, args.threads)
        rows.append(row)
        print(f"{model}: {row}", flush=True)
    table = pd.DataFrame(rows)
    order = ("model", "parameters", "genes", "size", "batch", "build_s", "first_step_s")
    cols = [c for c in (*order, "step_s", "peak_rss_mb", "error") if c in table]
    table = table[cols]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
