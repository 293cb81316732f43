"""Fine-tuning memory benchmark: peak RSS and wall time of ``mgi finetune`` on a real-size store.

Writes a slice store of TCGA-LGG's size (``--slices`` 256 x 256 slices of ``--patients``
patients; float16 images, uint8 masks, a tumour in ``--tumour-fraction`` of each patient's
slices), a matching expression matrix, z-score statistics and a patient split into a temporary
folder, then runs ``mgi finetune`` for each of ``--runs`` as a separate process, one thread,
``--epochs`` epochs, the model options of config.yaml's ``model:`` section (the demo's sizes).
Peak RSS is the child's ``ru_maxrss`` (``os.wait4``); wall time includes imports, training,
prediction of the test patients and writing the outputs. ``mgi`` and ``image_only`` start from a
randomly initialised pre-trained model (``model.pt`` written by a child first; only the weights'
shapes matter here).

``--src LABEL=DIR`` (repeatable) runs the code of another checkout (``PYTHONPATH=DIR``), so an
older commit can be compared on the same inputs::

    git worktree add /tmp/mgi-before <commit>
    .venv/bin/python benchmarks/finetune_memory.py --src before=/tmp/mgi-before/src \\
        --src after=src
    .venv/bin/python benchmarks/finetune_memory.py --patients 10 --slices 300   # quick check

Prints a table and writes benchmarks/results/finetune_memory.csv. Target: peak RSS with slices
read per item as stored (float16/uint8) at most half of that with float32 copies of the cohort's
slices in memory (commit 34f51b3 and before).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RUNS = ("unet", "resunet", "deeplabv3plus", "attention_unet", "image_only", "mgi")
CLI = "import sys; from mgi.cli import main; sys.exit(main())"


def slice_counts(patients: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Slices per patient, 20..88 like kaggle_3m, summing to ``total``."""
    base = rng.integers(20, 89, size=patients).astype(float)
    counts = np.floor(base * total / base.sum()).astype(int)
    counts[: total - counts.sum()] += 1
    return counts


def write_inputs(root: Path, args: argparse.Namespace) -> dict[str, Path]:
    """store/, matrix.parquet, zscore.parquet, split.tsv under ``root``; returns their paths.

    Each patient: an elliptical 'brain' with noise and a ball 'tumour' whose in-plane position
    follows the patient's first gene, over the middle ``tumour_fraction`` of its slices.
    """
    from mgi.expression.matrix_io import write_matrix, write_zscore

    rng = np.random.default_rng(args.seed)
    counts = slice_counts(args.patients, args.slices, rng)
    cases = [f"TCGA-BM-{i:04d}" for i in range(args.patients)]
    x = rng.normal(0, 1, (args.patients, args.genes)).astype(np.float32)
    n, size = int(counts.sum()), args.size
    store = root / "store"
    store.mkdir(parents=True)
    images = np.lib.format.open_memmap(store / "images.npy", "w+", np.float16, (n, size, size))
    masks = np.lib.format.open_memmap(store / "masks.npy", "w+", np.uint8, (n, size, size))
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    brain = (yy / 0.42) ** 2 + (xx / 0.36) ** 2 <= 1
    start, tables = 0, []
    for i, s in enumerate(counts):
        cy, cx = np.clip(x[i, :2] * 0.1, -0.2, 0.2)
        z = (np.arange(s) - (s - 1) / 2) / max(1, s * args.tumour_fraction / 2)
        ball = (yy - cy) ** 2 + (xx - cx) ** 2 <= (0.1**2) * (1 - z[:, None, None] ** 2)
        noise = rng.random((s, size, size), dtype=np.float32) * 0.2
        images[start : start + s] = (noise + 0.5 * brain + 0.3 * ball).astype(np.float16)
        masks[start : start + s] = ball
        tables.append(
            pd.DataFrame(
                {
                    "case_id": cases[i],
                    "slice": np.arange(s),
                    "tumour_pixels": ball.reshape(s, -1).sum(1),
                    "source": "synthetic",
                    "format": "kaggle_3m",
                }
            )
        )
        start += s
    images.flush()
    masks.flush()
    del images, masks
    pd.concat(tables, ignore_index=True).to_parquet(store / "index.parquet", index=False)
    gene_ids = [f"ENSG{i:011d}.1" for i in range(args.genes)]
    write_matrix(root / "matrix.parquet", x * 2 + 5, cases, gene_ids)
    n_test = round(args.patients * args.test_fraction)
    n_train = args.patients - n_test
    train = x[:n_train] * 2 + 5
    write_zscore(root / "zscore.parquet", gene_ids, train.mean(0), train.std(0), n_train)
    split = ["train"] * n_train + ["test"] * n_test
    pd.DataFrame({"case_id": cases, "split": split, "fold": -1}).to_csv(
        root / "split.tsv", sep="\t", index=False
    )
    return {
        "store": store,
        "matrix": root / "matrix.parquet",
        "zscore": root / "zscore.parquet",
        "split": root / "split.tsv",
    }


def child_env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}


def check_src(src: Path) -> None:
    """Fail unless a child with ``PYTHONPATH=src`` imports mgi from ``src``."""
    code = "import mgi; print(mgi.__file__)"
    out = subprocess.run([sys.executable, "-c", code], env=child_env(src), capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    if not Path(out).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"--src {src}: the child imports mgi from {out}")


def write_pretrained(src: Path, out: Path, model: dict, n_genes: int, size: int) -> Path:
    """A randomly initialised pre-trained ``model.pt`` (what image_only/mgi load), by a child."""
    code = (
        "import json, sys, torch\n"
        "from mgi.train.pretrain import build_pretrain_model\n"
        "torch.manual_seed(0)\n"
        "net = build_pretrain_model('mamba', n_genes=int(sys.argv[2]), img_size=int(sys.argv[3]),"
        " model=json.loads(sys.argv[4]))\n"
        "torch.save({'state_dict': net.state_dict()}, sys.argv[1])\n"
    )
    cmd = [sys.executable, "-c", code, str(out), str(n_genes), str(size), json.dumps(model)]
    subprocess.run(cmd, env=child_env(src), check=True)
    return out


def measure(cmd: list[str], env: dict[str, str], log: Path, timeout: float) -> dict:
    """Run ``cmd``; its exit code, wall seconds and peak RSS (GB, the child's ru_maxrss)."""
    with open(log, "w") as fh:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - t
        timer.cancel()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code == 0:
        state = "ok"
    elif code == -9 and seconds >= timeout:
        state = "timeout"
    else:
        state = f"exit {code}: " + " | ".join(log.read_text().strip().splitlines()[-3:])[-300:]
    return {"peak_rss_gb": usage.ru_maxrss / 2**20, "seconds": seconds, "status": state}


def run_finetune(label: str, src: Path, run: str, inputs: dict, root: Path, args) -> dict:
    """One ``mgi finetune`` run in a child process; a table row."""
    out = root / "runs" / label / run
    cmd = [sys.executable, "-c", CLI, "finetune", "--run", run, "--out-dir", str(out),
           "--store", str(inputs["store"]), "--matrix", str(inputs["matrix"]),
           "--zscore", str(inputs["zscore"]), "--split", str(inputs["split"]),
           "--model-json", json.dumps(args.model), "--threads", "1", "--device", "cpu",
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--empty-ratio", str(args.empty_ratio),
           "--predict-batch", str(args.predict_batch)]  # fmt: skip
    if run in ("image_only", "mgi"):
        pretrained = root / "runs" / label / "pretrained.pt"
        if not pretrained.is_file():
            pretrained.parent.mkdir(parents=True, exist_ok=True)
            write_pretrained(src, pretrained, args.model, args.genes, args.size)
        cmd += ["--gene-encoder", "mamba", "--pretrained", str(pretrained)]
    log = root / "runs" / f"{label}-{run}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    row = {"src": label, "run": run, **measure(cmd, child_env(src), log, args.timeout)}
    if row["status"] == "ok" and not (out / "predictions.npz").is_file():
        row["status"] = "no predictions.npz"
    return row


def parse_src(values: list[str]) -> list[tuple[str, Path]]:
    out = []
    for v in values or [f"current={REPO / 'src'}"]:
        label, _, path = v.rpartition("=")
        path = Path(path)
        out.append((label or path.parent.name, path))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patients", type=int, default=110)
    p.add_argument("--slices", type=int, default=3929, help="slices in all (TCGA-LGG: 3,929)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--genes", type=int, default=600, help="genes (the demo keeps 600)")
    p.add_argument("--tumour-fraction", type=float, default=0.35, help="of each patient's slices")
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--runs", nargs="+", default=["unet", "mgi"], choices=RUNS)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--empty-ratio", type=float, default=0.25)
    p.add_argument("--predict-batch", type=int, default=64)
    p.add_argument("--config", default=str(REPO / "config.yaml"), help="its model: section")
    p.add_argument("--model-json", help="model options as JSON instead of --config's")
    p.add_argument(
        "--src",
        action="append",
        metavar="LABEL=DIR",
        help="mgi sources to run (PYTHONPATH); repeatable; default: this checkout",
    )
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", default="finetune_memory.csv", help="file under benchmarks/results")
    args = p.parse_args()
    if args.model_json:
        args.model = json.loads(args.model_json)
    else:
        args.model = yaml.safe_load(Path(args.config).read_text())["model"]
    sources = parse_src(args.src)
    for _, src in sources:
        check_src(src)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mgi-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        inputs = write_inputs(root, args)
        index = pd.read_parquet(inputs["store"] / "index.parquet")
        print(f"inputs: {len(index)} slices of {args.patients} patients, "
              f"{(index['tumour_pixels'] > 0).mean():.0%} with tumour, "
              f"{time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
        for run in args.runs:
            for label, src in sources:
                rows.append(run_finetune(label, src, run, inputs, root, args))
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.insert(2, "slices", args.slices)
    table.insert(3, "size", args.size)
    table.insert(4, "epochs", args.epochs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / args.csv, index=False)
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 160):
        print(table.to_string(index=False))
    if len(sources) > 1:
        rss = table.pivot(index="run", columns="src", values="peak_rss_gb")
        first, last = sources[0][0], sources[-1][0]
        print(f"\npeak RSS {last} / {first}:")
        print((rss[last] / rss[first]).round(2).to_string())
    print("target: peak RSS <= half of that with float32 copies of the cohort (34f51b3)")


if __name__ == "__main__":
    main()
