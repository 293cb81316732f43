"""Choosing the fine-tuned model on validation patients, never on test patients.

:class:`BestEpoch` is a :class:`mgi.train.loop.Task` ``metrics`` callback: after every epoch it
predicts the validation patients, scores the mean per-patient 3-D Dice (``val_dice``, the
definition of Table 1's ``dice``) and keeps the weights of the best epoch so far in
``ckpt_dir/best.pt``. The file carries the run's configuration hash and its score, so a resumed
run (after SIGTERM) continues the comparison where it stopped, and a file of another
configuration is never used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from mgi.atomic import atomic_path
from mgi.metrics import dice_3d

log = logging.getLogger(__name__)

BEST = "best.pt"


def mean_patient_dice(prob: np.ndarray, masks: np.ndarray, patient: np.ndarray, thr=0.5) -> float:
    """Mean over patients of the 3-D Dice of ``prob >= thr`` against ``masks``.

    prob, masks: (N, H, W) for N slices; patient: (N,) the patient of each slice.
    """
    pred = prob >= thr
    scores = [dice_3d(pred[patient == p], masks[patient == p]) for p in np.unique(patient)]
    return float(np.mean(scores))


class BestEpoch:
    """``val_dice`` per epoch, and the best epoch's weights in ``ckpt_dir/best.pt``.

    ``predict(model)`` -> (N, H, W) probabilities of the validation slices, in the order of
    ``masks`` (N, H, W) and ``patient`` (N,). Ties keep the earlier epoch, so the chosen epoch
    is the first maximum of the history's ``val_dice`` column (:func:`chosen_epoch`).
    """

    def __init__(
        self,
        predict: Callable[[torch.nn.Module], np.ndarray],
        masks: np.ndarray,
        patient: np.ndarray,
        *,
        ckpt_dir: str | Path,
        key: str,
    ) -> None:
        self.predict, self.masks, self.patient = predict, masks.astype(bool), patient
        self.path, self.key = Path(ckpt_dir) / BEST, key
        self.best = -np.inf
        if self.path.is_file():
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
            if saved.get("key") == key:  # a resumed run of this configuration
                self.best = saved["val_dice"]

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        score = mean_patient_dice(self.predict(model), self.masks, self.patient)
        model.train()
        if score > self.best:
            self.best = score
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            with atomic_path(self.path) as tmp:
                torch.save({"key": self.key, "val_dice": score, "state": state}, tmp)
        return {"val_dice": score}

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights into ``model``."""
        saved = torch.load(self.path, map_location="cpu", weights_only=False)
        if saved.get("key") != self.key:
            raise RuntimeError(f"{self.path}: best weights of another configuration")
        model.load_state_dict(saved["state"])

    def clear(self) -> None:
        """Remove ``best.pt`` (and the checkpoint folder, if that leaves it empty)."""
        self.path.unlink(missing_ok=True)
        if self.path.parent.is_dir() and not any(self.path.parent.iterdir()):
            self.path.parent.rmdir()


def chosen_epoch(val_dice: Sequence[float]) -> int:
    """The epoch (1-based) :class:`BestEpoch` keeps: the first maximum of ``val_dice``."""
    return int(np.argmax(np.asarray(val_dice, dtype=float))) + 1
