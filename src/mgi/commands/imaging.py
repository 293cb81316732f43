"""``mgi imaging slice|qc``: FLAIR volumes or kaggle_3m slices to a slice store, and its QC."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    imaging = sub.add_parser("imaging", help="slice store from NIfTI or kaggle_3m, QC montages")
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
