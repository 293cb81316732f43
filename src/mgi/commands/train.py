"""``mgi pretrain`` and ``mgi finetune``: the training stages from the command line.

Both take the pipeline's files (slice store, expression matrix, z-score statistics, split), write
their outputs atomically, checkpoint every ``--checkpoint-minutes`` into ``--ckpt-dir`` and, with
``--resume``, continue from the newest checkpoint of the same run. SIGTERM/SIGUSR1 write a
checkpoint and exit with ``128 + signal``.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import MISSING, fields, is_dataclass


def _add_fields(p: argparse.ArgumentParser, cls, section: dict) -> None:
    """One option per field of ``cls``; its default from the schema's ``section`` (the workflow's
    default too), the dataclass's only for fields the config does not have."""
    for f in fields(cls):
        if f.default is MISSING:
            continue
        default = section.get(f.name, f.default)
        kind = type(f.default)
        if is_dataclass(f.default):  # a nested section (finetune.augment): JSON, schema fills
            p.add_argument(
                f"--{f.name.replace('_', '-')}", type=json.loads, default=default,
                help="JSON object, e.g. {\"flip_lr\": 0}; keys not given take their defaults",
            )  # fmt: skip
        elif kind is bool:
            p.add_argument(
                f"--{f.name.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                default=default,
            )  # fmt: skip
        else:
            p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=default)


def _common(p: argparse.ArgumentParser, section: str) -> None:
    from mgi.config import defaults
    from mgi.train.specs import Optim

    p.add_argument("--store", required=True, help="slice store folder")
    p.add_argument("--matrix", required=True, help="expression matrix.parquet")
    p.add_argument("--zscore", required=True, help="zscore.parquet (training-patient statistics)")
    p.add_argument("--split", required=True, help="split.tsv")
    p.add_argument("--out-dir", required=True, help="output folder")
    p.add_argument("--ckpt-dir", help="checkpoint folder (default: <out-dir>/checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument(
        "--model-json",
        default=json.dumps(defaults("model")),
        help="model options (config `model:`) as JSON; keys not given take the schema's",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's choice)")
    knobs = defaults(section)
    p.add_argument(
        "--workers", type=int, default=knobs["workers"], help="DataLoader worker processes"
    )
    p.add_argument(
        "--checkpoint-minutes", type=float, default=knobs["checkpoint_minutes"],
        help="minutes between checkpoints (0: after every epoch); also on SIGTERM/USR1, at the end",
    )  # fmt: skip
    p.add_argument(
        "--tensorboard", default="", metavar="DIR",
        help="write TensorBoard event files to DIR (needs the tensorboard extra)",
    )  # fmt: skip
    _add_fields(p, Optim, {**knobs, "seed": knobs["seeds"][0]})  # one job: one of the seeds


def register(sub: argparse._SubParsersAction) -> None:
    from mgi.config import defaults
    from mgi.train.specs import FinetuneSpec, PretrainSpec

    p = sub.add_parser("pretrain", help="image-gene contrastive pre-training (+ retrieval)")
    _common(p, "pretrain")
    _add_fields(p, PretrainSpec, defaults("pretrain"))
    p.set_defaults(func=_pretrain)
    f = sub.add_parser("finetune", help="segmentation fine-tuning of one run")
    _common(f, "finetune")
    f.add_argument(
        "--run",
        required=True,
        help="mgi, image_only, mgi_shuffled, mgi-<encoder>, "
        "unet, resunet, deeplabv3plus or attention_unet",
    )
    f.add_argument(
        "--gene-encoder",
        default=defaults("finetune")["gene_encoder"],
        help="gene encoder of mgi/image_only",
    )
    f.add_argument("--pretrained", help="pre-trained model.pt (runs that start from one)")
    _add_fields(f, FinetuneSpec, defaults("finetune"))
    f.set_defaults(func=_finetune)


def _setup(args: argparse.Namespace):
    import torch

    from mgi.train.specs import Optim, from_mapping

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ckpt = args.ckpt_dir or f"{args.out_dir}/checkpoints"
    from mgi.config import defaults, merge

    model = merge(defaults("model"), json.loads(args.model_json))  # partial JSON: schema fills
    from mgi.models.scan import set_mode

    set_mode(model["genes"]["scan"])  # which code runs the Mamba scan (a runtime knob)
    return from_mapping(Optim, vars(args)), model, ckpt


def _stoppable(train, args: argparse.Namespace, **kwargs) -> int:
    """Run ``train`` on the common inputs; a SIGTERM/SIGUSR1 stop returns its exit code."""
    from mgi.train.signals import StopRequested
    from mgi.train.specs import Loop

    opt, model, ckpt = _setup(args)
    loop = Loop(args.workers, args.checkpoint_minutes, tensorboard=args.tensorboard)
    try:
        train(
            args.store,
            args.matrix,
            args.zscore,
            args.split,
            out_dir=args.out_dir,
            ckpt_dir=ckpt,
            opt=opt,
            model=model,
            resume=args.resume,
            loop=loop,
            **kwargs,
        )
    except StopRequested as stop:
        logging.getLogger("mgi").warning("%s", stop)
        return stop.exit_code
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from mgi.train.pretrain import pretrain
    from mgi.train.specs import PretrainSpec, from_mapping

    return _stoppable(pretrain, args, spec=from_mapping(PretrainSpec, vars(args)))


def _finetune(args: argparse.Namespace) -> int:
    from mgi.train.finetune import Run, finetune
    from mgi.train.specs import FinetuneSpec, from_mapping

    return _stoppable(
        finetune,
        args,
        run=Run.parse(args.run, args.gene_encoder),
        pretrained=args.pretrained,
        spec=from_mapping(FinetuneSpec, vars(args)),
    )
