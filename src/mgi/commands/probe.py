"""``mgi probe {labels,embed,fit,table}``: Table 2 outside Snakemake (rules/probe.smk)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from mgi.config import defaults

    d = defaults("probe")
    pr = sub.add_parser("probe", help="Table 2: a linear probe of frozen encoders on labels")
    pr_sub = pr.add_subparsers(dest="action", required=True)

    p = pr_sub.add_parser("labels", help="labels.tsv + label_sources.tsv of the paired patients")
    p.add_argument("--paired", required=True, help="paired.tsv of the cohort stage")
    p.add_argument("--clinical", help="GDC clinical table (cases.parquet)")
    p.add_argument("--markers", help="GDC markers (markers.parquet, `mgi gdc markers`)")
    p.add_argument("--kaggle-3m", help="kaggle_3m's data.csv")
    p.add_argument("--labels", nargs="+", default=d["labels"], help="label columns")
    p.add_argument("--min-per-class", type=int, default=d["min_per_class"])
    p.add_argument("--max-missing", type=float, default=d["max_missing"])
    p.add_argument("--out", required=True, help="labels.tsv (label_sources.tsv beside it)")
    p.set_defaults(func=_labels)

    p = pr_sub.add_parser("embed", help="one feature set's patient embeddings (Parquet)")
    p.add_argument("--features", required=True, help="mgi_pretrained, image_pretrained_random, "
                   "image_only_finetuned, mgi_finetuned or genes")  # fmt: skip
    p.add_argument("--split", required=True, help="split.tsv: its patients are embedded")
    p.add_argument("--store", help="slice store folder (image features)")
    p.add_argument("--model", help="model.pt whose ViT is applied (pre-trained or fine-tuned)")
    p.add_argument("--image-json", default=json.dumps(defaults("model")["image"]),
                   help="model.image options (image_pretrained_random)")  # fmt: skip
    p.add_argument("--seed", type=int, default=defaults("pretrain")["seeds"][0],
                   help="pretrain.seeds[0]: the random ViT's initialisation")  # fmt: skip
    p.add_argument("--matrix", help="expression matrix.parquet (genes)")
    p.add_argument("--zscore", help="zscore.parquet of the training patients (genes)")
    p.add_argument("--pool", default=d["pool"], choices=["token", "mean"])
    p.add_argument("--brain-share", type=float, default=d["brain_share"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="embeddings.parquet")
    p.set_defaults(func=_embed)

    p = pr_sub.add_parser("fit", help="probe every label x feature set on one split")
    p.add_argument("--embeddings", nargs="+", required=True, metavar="FEATURES=PATH")
    p.add_argument("--labels", required=True, help="labels.tsv")
    p.add_argument("--sources", required=True, help="label_sources.tsv")
    p.add_argument("--split", required=True, help="split.tsv (train/val fit, test is scored)")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--inner-folds", type=int, default=d["inner_folds"])
    p.add_argument("--c-grid", type=float, nargs=3, default=d["c_grid"],
                   help="log10 of the smallest and largest C, and how many")  # fmt: skip
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--out", required=True, help="predictions.csv")
    p.set_defaults(func=_fit)

    p = pr_sub.add_parser("table", help="Table 2 from the folds' predictions")
    p.add_argument("--predictions", nargs="+", required=True, help="predictions.csv per fold")
    p.add_argument("--sources", required=True, help="label_sources.tsv")
    p.add_argument("--slices", default=f"brain>={d['brain_share']:g}, pool {d['pool']}")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/tables/table2", help="output stem")
    p.set_defaults(func=_table)


def _labels(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgi.probe.labels import LabelRules, labels_stage

    out = Path(args.out)
    labels_stage(
        args.paired,
        out,
        out.with_name("label_sources.tsv"),
        names=args.labels,
        clinical=args.clinical,
        markers=args.markers,
        kaggle_3m=args.kaggle_3m,
        rules=LabelRules(args.min_per_class, args.max_missing),
    )
    return 0


def _embed(args: argparse.Namespace) -> int:
    from mgi.probe.embed import embed_genes, embed_images

    config = vars(args) | {"func": None}
    if args.features == "genes":
        if not (args.matrix and args.zscore):
            raise SystemExit("mgi probe embed --features genes needs --matrix and --zscore")
        embed_genes(args.out, split=args.split, matrix=args.matrix, zscore=args.zscore,
                    config=config)  # fmt: skip
        return 0
    if not args.store:
        raise SystemExit(f"mgi probe embed --features {args.features} needs --store")
    embed_images(
        {args.features: args.out},
        split=args.split,
        store=args.store,
        models={args.features: args.model} if args.model else {},
        image=json.loads(args.image_json),
        seed=args.seed,
        pool=args.pool,
        brain_share=args.brain_share,
        batch_size=args.batch_size,
        device=args.device,
        config=config,
    )
    return 0


def _fit(args: argparse.Namespace) -> int:
    from mgi.probe.fit import probe_fold

    pairs = dict(item.split("=", 1) for item in args.embeddings)
    probe_fold(pairs, args.labels, args.sources, args.split, args.out, fold=args.fold,
               inner_folds=args.inner_folds, c_grid=tuple(args.c_grid), seed=args.seed)  # fmt: skip
    return 0


def _table(args: argparse.Namespace) -> int:
    from mgi.probe.table import write_table2

    write_table2(args.predictions, args.sources, args.out, slices=args.slices,
                 n_resamples=args.bootstrap, confidence=args.confidence, seed=args.seed,
                 config=vars(args) | {"func": None})  # fmt: skip
    return 0
