"""Stop cleanly on a scheduler's signal: SIGTERM (SLURM time limit, pre-emption) or SIGUSR1.

The handler only records the signal; the training loop checks :attr:`StopFlag.signum` after
every optimiser step, saves a checkpoint and raises :class:`StopRequested`, so the process exits
non-zero and the rerun resumes from the checkpoint.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopRequested(RuntimeError):
    """Raised after the checkpoint is written; ``exit_code`` is ``128 + signum`` (shell style)."""

    def __init__(self, signum: int, checkpoint: str) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}; checkpoint {checkpoint} (rerun to resume)")
        self.signum = signum
        self.exit_code = 128 + signum


class StopFlag:
    """Context manager: while inside, SIGTERM/SIGUSR1 set :attr:`signum` instead of killing.

    Outside the main thread (where Python cannot install handlers) it is a no-op flag.
    """

    def __init__(self, signals: tuple[int, ...] = SIGNALS) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.warning("received %s: checkpointing after this step", signal.Signals(signum).name)
        self.signum = signum

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
