"""The shared epoch loop: resume equivalence, SIGTERM checkpoints, schedule, config hashing."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from torch.utils.data import Dataset

from mgi.train.loop import Optim, Task, cosine_schedule, fit
from mgi.train.signals import StopRequested


class Points(Dataset):
    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))


def _task(interrupt=None) -> Task:
    import numpy as np

    data = Points()

    def batches(epoch):
        order = np.random.default_rng([0, epoch]).permutation(len(data)).tolist()
        return [order[i : i + 5] for i in range(0, len(order), 5)]  # 5 steps, last one short

    def loss(model, batch):
        return torch.nn.functional.mse_loss(model(batch["x"])[:, 0], batch["y"])

    return Task(data, batches, loss, after_step=interrupt, desc="test")


OPT = Optim(epochs=4, lr=0.05, warmup_epochs=0.5, seed=0, device="cpu")


def _interrupt_at(step, action):
    count = {"n": 0}

    def after(model):
        count["n"] += 1
        if count["n"] == step:
            action()

    return after


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_sigterm_checkpoints_and_resume_matches_uninterrupted(tmp_path):
    straight = _model()
    history = fit(straight, _task(), OPT, ckpt_dir=tmp_path / "a", config={"run": 1})
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]

    interrupted = _model()
    kill = _interrupt_at(7, lambda: os.kill(os.getpid(), signal.SIGTERM))  # mid epoch 2
    with pytest.raises(StopRequested) as err:
        fit(interrupted, _task(kill), OPT, ckpt_dir=tmp_path / "b", config={"run": 1})
    assert err.value.exit_code == 128 + signal.SIGTERM
    assert (tmp_path / "b" / "epoch-0001-step-000002.pt").is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored

    resumed = _model()
    history2 = fit(resumed, _task(), OPT, ckpt_dir=tmp_path / "b", config={"run": 1})
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=1e-6)
    assert history2["train_loss"].tolist() == pytest.approx(history["train_loss"].tolist(), 1e-6)


def test_crash_between_epochs_resumes_from_the_last_epoch_checkpoint(tmp_path):
    straight = _model()
    fit(straight, _task(), OPT, ckpt_dir=tmp_path / "a", config={})

    def crash():
        raise KeyboardInterrupt  # a kill -9 stand-in: no chance to checkpoint

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), _task(_interrupt_at(13, crash)), OPT, ckpt_dir=tmp_path / "b", config={})
    names = sorted(p.name for p in (tmp_path / "b").glob("*.pt"))
    assert names == ["epoch-0001-step-000000.pt", "epoch-0002-step-000000.pt"]  # one per epoch
    resumed = _model()
    fit(resumed, _task(), OPT, ckpt_dir=tmp_path / "b", config={})
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=1e-6)


def test_changed_config_does_not_resume(tmp_path):
    fit(_model(), _task(), OPT, ckpt_dir=tmp_path, config={"lr": 1})
    assert list(tmp_path.glob("*.pt"))  # the finished run's checkpoints are still there
    steps = {"n": 0}
    task = _task(lambda model: steps.__setitem__("n", steps["n"] + 1))
    fit(_model(), task, OPT, ckpt_dir=tmp_path, config={"lr": 2})
    assert steps["n"] == 4 * 5  # trained from scratch, not resumed from the other run
    steps["n"] = 0
    fit(_model(), task, OPT, ckpt_dir=tmp_path, config={"lr": 2})
    assert steps["n"] == 0  # same configuration: resumed at the end, nothing left to do


def test_cosine_schedule_warms_up_then_decays():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = cosine_schedule(opt, total_steps=10, warmup_steps=2, min_ratio=0.1)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False))
    assert lrs[-1] >= 0.1


def test_diverged_loss_stops_with_a_message(tmp_path):
    task = _task()
    task.loss = lambda model, batch: model(batch["x"]).sum() * float("nan")
    with pytest.raises(RuntimeError, match="diverged"):
        fit(_model(), task, OPT, ckpt_dir=tmp_path, config={})
