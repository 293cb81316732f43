"""``mgi config show``: the effective, validated config of a run, as the workflow sees it."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="the effective config of a run")
    p_sub = p.add_subparsers(dest="action", required=True)
    show = p_sub.add_parser(
        "show",
        help="print the effective config as YAML (schema defaults filled in)",
        description="Print the config `snakemake [--configfile F ...]` runs with: config.yaml "
        "when no --configfile is given, else the given files merged in order.",
    )
    show.add_argument(
        "--configfile",
        action="append",
        default=[],
        metavar="F",
        help="a config file, as for snakemake (repeatable; later files win)",
    )
    show.add_argument("--workdir", default=".", help="folder holding config.yaml (default: .)")
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    from mgi.config import dump, load

    sys.stdout.write(dump(load(args.configfile, workdir=args.workdir)))
    return 0
