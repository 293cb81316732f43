"""``mgi cohort split``: pair images with RNA-seq by case barcode and split by patient."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    cohort = sub.add_parser("cohort", help="pairing and patient-level splits")
    cohort_sub = cohort.add_subparsers(dest="action", required=True)
    p = cohort_sub.add_parser("split", help="pair by case barcode, split by patient")
    p.add_argument("--files", required=True, help="files.tsv written by the GDC download")
    p.add_argument("--imaging-index", required=True, help="slice store index (case_id column)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--scheme", choices=["holdout", "cv"], default="holdout")
    p.add_argument("--folds", type=int, default=5, help="folds with --scheme cv")
    p.add_argument("--val-fraction", type=float, default=0.0, help="of each training set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clinical", help="cases table (for --stratify)")
    p.add_argument("--stratify", help="clinical column to stratify on")
    p.add_argument("--imaging-table", help="kaggle_3m data.csv, joined to --clinical by patient")
    p.set_defaults(func=_split)


def _split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgi.cohort import build

    out = Path(args.out)
    build(
        args.files,
        args.imaging_index,
        paired_out=out / "paired.tsv",
        unpaired_out=out / "unpaired.tsv",
        split_outs=[out / "split.tsv"]
        if args.scheme == "holdout"
        else [out / "folds" / str(k) / "split.tsv" for k in range(args.folds)],
        scheme=args.scheme,
        test_fraction=args.test_fraction,
        val_fraction=args.val_fraction,
        seed=args.seed,
        clinical=args.clinical,
        stratify=args.stratify,
        imaging_table=args.imaging_table,
    )
    return 0
