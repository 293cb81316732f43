"""The ``mgi`` command. Sub-commands live in :mod:`mgi.commands`, one module per stage.

Each module in ``mgi.commands`` defines ``register(subparsers)``, which adds its sub-command and
sets ``func`` on the parser; heavy imports happen inside ``func``. Start-up stays fast: ``main``
imports and registers only the module of the command on the line; the others appear in
``mgi --help`` from ``COMMANDS`` (name -> module, one-line help; a test checks it against the
modules), so ``mgi --help`` imports no stage at all.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mgi import __version__, commands
from mgi.logsetup import setup_logging

# command -> (module in mgi.commands, help); must match what the modules register
COMMANDS: dict[str, tuple[str, str]] = {
    "cohort": ("cohort", "pairing and patient-level splits"),
    "config": ("config", "the effective config of a run"),
    "demo": ("demo", "the embedded demo cohort"),
    "evaluate": ("evaluate", "metrics, NIfTI write-back and tables"),
    "export": ("bundle", "a fine-tuned run as a self-contained bundle (zip)"),
    "expression": ("expression", "RNA-seq expression matrix"),
    "finetune": ("train", "segmentation fine-tuning of one run"),
    "gdc": ("gdc", "download RNA-seq and clinical data from the GDC API"),
    "imaging": ("imaging", "fetch images, slice store from NIfTI or kaggle_3m, QC montages"),
    "predict": ("bundle", "a bundle's models on new patients (a sheet)"),
    "preflight": ("preflight", "measure the run on this machine before the long run"),
    "pretrain": ("train", "image-gene contrastive pre-training (+ retrieval)"),
    "probe": ("probe", "Table 2: a linear probe of frozen encoders on labels"),
}


def _base_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="mgi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mgi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-file", help="also write the log to this file")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (or MGI_DEBUG=1)"
    )
    return parser, parser.add_subparsers(dest="command", required=True)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every module of ``mgi.commands`` registered."""
    parser, sub = _base_parser()
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"mgi.commands.{info.name}").register(sub)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named on the line (the first positional), if any."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--log-file":
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def lazy_parser(argv: list[str]) -> argparse.ArgumentParser:
    """A parser with only the named command's module registered; the rest are help stubs."""
    command = _command_of(argv)
    if command not in COMMANDS:
        return build_parser() if command is not None else _stub_parser()
    module = COMMANDS[command][0]
    parser, sub = _base_parser()
    importlib.import_module(f"mgi.commands.{module}").register(sub)
    for name, (mod, text) in COMMANDS.items():
        if mod != module:
            sub.add_parser(name, help=text, add_help=False)
    return parser


def _stub_parser() -> argparse.ArgumentParser:
    """Every command as a help stub: enough for ``mgi --help`` and ``mgi --version``."""
    parser, sub = _base_parser()
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # accepted anywhere on the line, not only before the command
    argv = [a for a in argv if a != "--debug"]
    args = lazy_parser(argv).parse_args(argv)
    setup_logging(args.log_file, verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, RuntimeError) as err:
        # Expected failures (bad input or config, network, HTTP; requests' errors are OSErrors)
        # stop with one line naming the file or URL and the cause; --debug adds the traceback.
        return report_error(err, debug=debug)


def report_error(err: BaseException, *, debug: bool = False) -> int:
    """Write ``mgi: error: <one line>`` to stderr (and the log); the traceback with ``debug``."""
    import logging
    import os
    import traceback

    debug = debug or os.environ.get("MGI_DEBUG", "") not in ("", "0")
    if debug:
        traceback.print_exception(err)
    line = " ".join(str(err).split()) or type(err).__name__
    logging.getLogger("mgi").debug("%s: %s", type(err).__name__, line)
    sys.stderr.write(f"mgi: error: {line}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
