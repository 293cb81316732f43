"""``mgi export`` and ``mgi predict``: a fine-tuned run as a shareable bundle, and that bundle on
new patients (see :mod:`mgi.bundle`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from mgi.bundle.genes import MAX_MISSING

    e = sub.add_parser("export", help="a fine-tuned run as a self-contained bundle (zip)")
    e.add_argument("--run", required=True, help="fine-tuned run, e.g. mgi or image_only")
    e.add_argument("--out", required=True, help="bundle zip to write")
    e.add_argument("--results", default="results", help="the finished run's results folder")
    e.set_defaults(func=_export)
    p = sub.add_parser("predict", help="a bundle's models on new patients (a sheet)")
    p.add_argument("--bundle", required=True, help="bundle zip (mgi export)")
    p.add_argument(
        "--sheet",
        required=True,
        help="TSV/CSV: case_id, flair (NIfTI or kaggle_3m TIFF folder), optional expression"
        " (STAR-Counts or gene_id,tpm), optional mask",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--keep-going", action="store_true", help="skip bad rows, list them")
    p.add_argument(
        "--max-missing-genes",
        type=float,
        default=MAX_MISSING,
        help="largest share of the model's genes an expression file may lack (default %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="slices per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's choice)")
    p.set_defaults(func=_predict)


def _export(args: argparse.Namespace) -> int:
    from mgi.bundle.export import export_bundle, run_files

    export_bundle(args.out, run=args.run, **run_files(args.results, args.run))
    return 0


def _predict(args: argparse.Namespace) -> int:
    import torch

    from mgi.bundle.predict import Options, predict_sheet

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    opts = Options(
        batch_size=args.batch_size,
        device=args.device,
        max_missing=args.max_missing_genes,
        keep_going=args.keep_going,
    )
    predict_sheet(args.bundle, args.sheet, args.out, opts)
    return 0
