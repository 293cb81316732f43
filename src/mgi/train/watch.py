"""Optional TensorBoard event files of a training job (``tensorboard: true``; off by default).

Scalars: ``train/loss`` and ``train/step_seconds`` at every non-finite check (the loop's only
host syncs), ``train/lr``, and each epoch's history row under ``epoch/`` (``train_loss``, ``lr``,
``seconds``, ``val_dice`` where validation patients score it). The ``tensorboard`` package is an
optional extra (``pip install 'mgi-pipeline[tensorboard]'``); without it the job says so in one
line and trains on. Watch with ``tensorboard --logdir logs``.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

MISSING = (
    "tensorboard: the tensorboard package is not installed, no event files are written "
    "(pip install 'mgi-pipeline[tensorboard]')"
)


class Watch:
    """A ``SummaryWriter`` on ``folder``, or a no-op (``folder`` empty, or no tensorboard)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.writer = None
        if not folder:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's module imports the tensorboard package
            log.warning(MISSING)
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(folder))
        log.info("tensorboard: event files in %s", folder)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
