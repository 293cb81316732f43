"""``mgi evaluate {run,nifti,table1}``: score a fine-tuning run, write masks back, build Table 1."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("evaluate", help="metrics, NIfTI write-back and tables")
    ev_sub = ev.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--predictions", required=True, help="predictions.npz (rows, prob)")
        p.add_argument("--store", required=True, help="slice store folder")
        p.add_argument("--split", required=True, help="split.tsv (case_id, split)")
        p.add_argument("--threshold", type=float, default=0.5, help="probability cut-off")

    p = ev_sub.add_parser("run", help="per-patient CSV + summary JSON of one run")
    common(p)
    p.add_argument("--run", required=True, help="run name recorded in the summary")
    p.add_argument("--out-dir", required=True, help="writes per_patient.csv and summary.json")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=_run)

    p = ev_sub.add_parser("nifti", help="predicted masks -> NIfTI on each FLAIR's grid")
    common(p)
    p.add_argument("--out", required=True, help="output folder (<case>.nii.gz)")
    p.set_defaults(func=_nifti)

    p = ev_sub.add_parser("table1", help="Table 1 from <results>/<run>/summary.json")
    p.add_argument("--results", default="results/evaluate", help="folder of per-run summaries")
    p.add_argument("--out", default="results/tables/table1", help="output stem (.csv/.md/.json)")
    p.set_defaults(func=_table1)


def _run(args: argparse.Namespace) -> int:
    from mgi.evaluate import evaluate_run

    out = Path(args.out_dir)
    evaluate_run(
        args.predictions,
        args.store,
        args.split,
        per_patient_out=out / "per_patient.csv",
        summary_out=out / "summary.json",
        run=args.run,
        threshold=args.threshold,
        n_resamples=args.bootstrap,
        confidence=args.confidence,
        seed=args.seed,
        config=vars(args) | {"func": None},
    )
    return 0


def _nifti(args: argparse.Namespace) -> int:
    from mgi.evaluate import write_back

    write_back(args.predictions, args.store, args.split, args.out, threshold=args.threshold)
    return 0


def _table1(args: argparse.Namespace) -> int:
    from mgi.tables import TABLE1_RUNS, table1

    table1({r: Path(args.results) / r / "summary.json" for r in TABLE1_RUNS}, args.out)
    return 0
