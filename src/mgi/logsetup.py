"""Logging set-up for entry points (the CLI and Snakemake scripts); the library only logs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, *, verbose: bool = False) -> None:
    """Send log records to stderr and, if given, to ``log_file`` (created with its folder)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=FORMAT,
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)


def script_logging(log_file: str | Path) -> None:
    """For Snakemake scripts: stderr (tracebacks, progress bars) and log records to ``log_file``."""
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr = open(log_file, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    setup_logging(None)
