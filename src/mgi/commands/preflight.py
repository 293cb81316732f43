"""``mgi preflight``: measure the run on this machine before the long run (:mod:`mgi.preflight`)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("mgi")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preflight",
        help="measure the run on this machine before the long run",
        description="Time each distinct training job of the run on synthetic inputs of its real "
        "shapes and estimate the whole run's wall time; fails with one line per problem.",
    )
    p.add_argument(
        "--configfile", action="append", default=[], metavar="F",
        help="a config file, as for snakemake (repeatable; none: ./config.yaml)",
    )  # fmt: skip
    p.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: the config's)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per job (after warm-up)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--gpus", type=int, default=None, help="devices the run spreads over")
    p.add_argument("--store", default="results/imaging/store", help="slice store (if it exists)")
    p.add_argument("--job", action="append", default=[], help="only this job, e.g. 'finetune mgi'")
    p.add_argument("--out", default="results/preflight", help="folder for the json and md")
    p.set_defaults(func=_preflight)


def _preflight(args: argparse.Namespace) -> int:
    from mgi.config import load
    from mgi.preflight import NoCuda, preflight, write

    config = load(args.configfile)
    device = args.device or config["finetune"]["device"]
    try:
        report = preflight(
            config, device=device, steps_timed=args.steps, warmup=args.warmup, gpus=args.gpus,
            store=args.store, jobs=args.job or None,
        )  # fmt: skip
    except NoCuda as err:
        log.error("preflight: %s", err)
        return 2
    js, md = write(report, args.out)
    est = report["estimate"]
    log.info("preflight: %s, %s; estimated wall time %.3g h", js, md, est["wall_hours"])
    for line in report["failures"]:
        log.error("preflight: %s", line)
    return 0 if report["ok"] else 1
