"""``mgi expression build``: STAR-Counts files of a GDC folder -> one log2(x+1) Parquet matrix;
``mgi expression export --format h5ad OUT``: that matrix as AnnData (scanpy, R zellkonverter)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    expression = sub.add_parser("expression", help="RNA-seq expression matrix")
    expression_sub = expression.add_subparsers(dest="action", required=True)
    p = expression_sub.add_parser("build", help="STAR-Counts files -> Parquet matrix")
    p.add_argument("--gdc-dir", required=True, help="folder with files.tsv + <file_id>/<name>")
    p.add_argument("--out", required=True, help="matrix Parquet (read with read_matrix)")
    p.add_argument(
        "--measure",
        default="tpm_unstranded",
        choices=["tpm_unstranded", "fpkm_uq_unstranded", "unstranded"],
        help="STAR column; unstranded counts become CPM (default: tpm_unstranded)",
    )
    p.add_argument("--split", help="split.tsv: fit filters/statistics on split == train only")
    p.add_argument("--genes-out", help="genes table (gene_id, gene_name, gene_type, order)")
    p.add_argument("--zscore-out", help="per-gene mean/std over training cases (needs --split)")
    p.add_argument("--aliquots-out", help="table of the file chosen per case")
    p.add_argument(
        "--sample-types",
        nargs="+",
        default=["Primary Tumor", "Recurrent Tumor"],
        help="aliquot priority per case (default: 'Primary Tumor' 'Recurrent Tumor')",
    )
    p.add_argument("--gene-types", nargs="*", default=[], help="GENCODE types kept (default all)")
    p.add_argument("--min-expression", type=float, default=0.0, help="minimum value (measure)")
    p.add_argument("--min-fraction", type=float, default=0.0, help="share of cases >= minimum")
    p.add_argument("--top-k-variance", type=int, help="keep the k most variable genes")
    p.add_argument("--workers", type=int, help="parallel file parsers (default min(8, CPUs))")
    p.set_defaults(func=_build)
    e = expression_sub.add_parser("export", help="the matrix as AnnData (.h5ad)")
    e.add_argument("out", help="output file (.h5ad)")
    e.add_argument("--format", default="h5ad", choices=["h5ad"], help="output format (h5ad)")
    e.add_argument(
        "--matrix",
        default="results/expression/matrix.parquet",
        help="the matrix (default: results/expression/matrix.parquet)",
    )
    e.add_argument(
        "--genes",
        help="genes.tsv for var gene_name/gene_type (default: genes.tsv beside the matrix, if any)",
    )
    e.add_argument("--clinical", help="clinical table (cases.parquet) joined into obs")
    e.set_defaults(func=_export)


def _build(args: argparse.Namespace) -> int:
    from mgi.expression import ExpressionOptions, build_matrix

    options = ExpressionOptions(
        measure=args.measure,
        sample_types=tuple(args.sample_types),
        gene_types=tuple(args.gene_types),
        min_expression=args.min_expression,
        min_fraction=args.min_fraction,
        top_k_variance=args.top_k_variance,
        workers=args.workers,
    )
    build_matrix(
        args.gdc_dir,
        args.out,
        options=options,
        split=args.split,
        genes_out=args.genes_out,
        zscore_out=args.zscore_out,
        aliquots_out=args.aliquots_out,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgi.expression.export import write_h5ad

    genes = args.genes
    if genes is None and (Path(args.matrix).parent / "genes.tsv").is_file():
        genes = Path(args.matrix).parent / "genes.tsv"
    write_h5ad(args.out, args.matrix, genes=genes, clinical=args.clinical)
    return 0
