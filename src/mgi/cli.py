"""The ``mgi`` command. Sub-commands live in :mod:`mgi.commands`, one module per stage.

Each module in ``mgi.commands`` defines ``register(subparsers)``, which adds its sub-command and
sets ``func`` on the parser; heavy imports happen inside ``func`` so ``mgi --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mgi import __version__, commands
from mgi.logsetup import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mgi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-file", help="also write the log to this file")
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"mgi.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_file, verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        # Bad input stops with one clear line (the message names the file and the problem).
        import logging

        logging.getLogger("mgi").error("%s", err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
