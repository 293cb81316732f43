"""``mgi imaging fetch|slice|qc``: fetch the images (kaggle_3m from Kaggle, or a BraTS-TCGA-LGG
zip to a NIfTI sheet), turn FLAIR volumes or kaggle_3m slices into a slice store, and its QC."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    imaging = sub.add_parser(
        "imaging", help="fetch images, slice store from NIfTI or kaggle_3m, QC montages"
    )
    imaging_sub = imaging.add_subparsers(dest="action", required=True)
    p = imaging_sub.add_parser("slice", help="build the slice store")
    p.add_argument("--format", required=True, choices=["nifti", "kaggle_3m"])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--root", help="kaggle_3m: folder of TCGA_XX_XXXX_YYYYMMDD folders; nifti: see --patterns"
    )
    src.add_argument("--sheet", help="nifti: sample sheet TSV (case_id, flair, mask)")
    p.add_argument(
        "--patterns",
        nargs=2,
        default=("{case}/flair.nii.gz", "{case}/mask.nii.gz"),
        metavar=("FLAIR", "MASK"),
        help="nifti with --root: FLAIR and mask paths under the root ({case} = case folder)",
    )
    p.add_argument("--out", required=True, help="store folder (replaced atomically)")
    p.add_argument("--size", type=int, default=64, help="slices resized to size x size")
    p.add_argument("--slices", choices=["all", "tumour"], default="all")
    p.add_argument("--margin", type=int, default=2, help="slices either side with --slices tumour")
    p.add_argument(
        "--clip-percentiles", type=float, nargs=2, default=(0.5, 99.5), metavar=("LO", "HI")
    )
    p.add_argument(
        "--empty-masks", choices=["error", "skip"], default="error", help="patients without tumour"
    )
    p.set_defaults(func=_slice)
    q = imaging_sub.add_parser("qc", help="per-patient montages + summary.tsv of a store")
    q.add_argument("--store", required=True, help="slice store folder")
    q.add_argument("--out", required=True, help="QC folder (replaced atomically)")
    q.add_argument("--max-slices", type=int, default=12)
    q.set_defaults(func=_qc)
    _register_fetch(imaging_sub)


def _register_fetch(imaging_sub: argparse._SubParsersAction) -> None:
    from mgi.config import defaults

    kaggle = defaults("imaging", "kaggle")
    f = imaging_sub.add_parser(
        "fetch", help="kaggle_3m from Kaggle (kagglehub), or a BraTS-TCGA-LGG zip to a NIfTI sheet"
    )
    f.add_argument("--source", required=True, choices=["kaggle", "brats_tcga_lgg"])
    f.add_argument(
        "--out", required=True, help="kaggle: DIR/kaggle_3m; brats_tcga_lgg: DIR/sheet.tsv, cases/"
    )
    f.add_argument("--dataset", default=kaggle["dataset"], help="kaggle: owner/slug")
    f.add_argument("--version", type=int, default=kaggle["version"], help="kaggle: pinned version")
    f.add_argument(
        "--patients", type=int, default=kaggle["patients"], help="kaggle: patient folders expected"
    )
    f.add_argument("--tries", type=int, default=kaggle["retries"], help="kaggle: download tries")
    f.add_argument("--backoff", type=float, default=1.0, help="first wait between tries (s)")
    f.add_argument("--zip", help="brats_tcga_lgg: the downloaded zip")
    f.add_argument("--md5", help="brats_tcga_lgg: the zip's expected md5 (optional)")
    f.set_defaults(func=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.source == "brats_tcga_lgg":
        from mgi.imaging.brats import brats_sheet

        if not args.zip:
            raise ValueError("--source brats_tcga_lgg needs --zip")
        out = Path(args.out)
        brats_sheet(args.zip, out / "sheet.tsv", out / "cases", md5=args.md5)
        return 0
    from mgi.gdc.client import RetryPolicy
    from mgi.imaging.kaggle_fetch import KaggleSource, fetch_kaggle_3m

    source = KaggleSource(args.dataset, args.version, args.patients)
    fetch_kaggle_3m(args.out, source, policy=RetryPolicy(tries=args.tries, backoff=args.backoff))
    return 0


def _slice(args: argparse.Namespace) -> int:
    from mgi.imaging import SliceOptions, build_store

    source = args.sheet or args.root
    if args.format == "kaggle_3m" and args.root is None:
        raise ValueError("--format kaggle_3m needs --root")
    opts = SliceOptions(
        size=args.size,
        slices=args.slices,
        margin=args.margin,
        clip_percentiles=tuple(args.clip_percentiles),
        empty_masks=args.empty_masks,
    )
    build_store(args.format, source, args.out, opts, patterns=tuple(args.patterns))
    return 0


def _qc(args: argparse.Namespace) -> int:
    from mgi.imaging import write_qc

    write_qc(args.store, args.out, max_slices=args.max_slices)
    return 0
