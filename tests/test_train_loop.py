"""The shared epoch loop: resume equivalence, SIGTERM checkpoints, schedule, config hashing."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from torch.utils.data import Dataset

from mgi.train import loop as training
from mgi.train.loop import Optim, Task, cosine_schedule, fit
from mgi.train.signals import StopRequested
from mgi.train.specs import Loop


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

    every_epoch = Loop(checkpoint_minutes=0)
    with pytest.raises(KeyboardInterrupt):
        task = _task(_interrupt_at(13, crash))
        fit(_model(), task, OPT, ckpt_dir=tmp_path / "b", config={}, loop=every_epoch)
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


def test_checkpoints_by_time_mid_epoch_and_at_the_end_and_resume_the_same(tmp_path, monkeypatch):
    straight = _model()
    fit(straight, _task(), OPT, ckpt_dir=tmp_path / "a", config={})
    assert [p.name for p in (tmp_path / "a").glob("*.pt")] == ["epoch-0004-step-000000.pt"]

    now = {"t": 0.0}  # a fake clock: each step takes 4 minutes; checkpoints every 10
    monkeypatch.setattr(training, "clock", lambda: now["t"])
    saved = []
    real_save = training.checkpoint.save

    def save(folder, state, **kw):
        saved.append((state["epoch"], state["step"]))
        return real_save(folder, state, **kw)

    monkeypatch.setattr(training.checkpoint, "save", save)

    def tick(model):
        now["t"] += 240.0

    def crash(model):
        tick(model)
        if len(saved) == 3:  # after the third time checkpoint: a kill -9 stand-in
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), _task(crash), OPT, ckpt_dir=tmp_path / "b", config={})
    assert saved == [(0, 3), (1, 1), (1, 4)]  # steps 3, 6, 9 of 5-step epochs: by time only
    resumed = _model()
    fit(resumed, _task(tick), OPT, ckpt_dir=tmp_path / "b", config={})
    assert saved[-1] == (4, 0)  # and at the end
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=1e-6)


def test_the_loss_is_checked_every_n_steps_not_every_step(tmp_path):
    task = _task()
    calls = {"n": 0}
    inner = task.loss

    def loss(model, batch):
        calls["n"] += 1
        out = inner(model, batch)
        return out * float("nan") if calls["n"] == 2 else out

    task.loss = loss
    with pytest.raises(RuntimeError, match=r"test: loss is nan \(diverged\); lower the lr"):
        fit(_model(), task, OPT, ckpt_dir=tmp_path, config={}, loop=Loop(check_every=3))
    assert calls["n"] == 3  # found at the check after step 3, not at step 2


def test_tensorboard_writes_event_files_or_says_in_one_line_that_it_cannot(tmp_path, caplog):
    import importlib.util

    from mgi.train.watch import MISSING

    folder = tmp_path / "tb"
    with caplog.at_level("WARNING", logger="mgi.train.watch"):
        fit(_model(), _task(), OPT, ckpt_dir=tmp_path / "ck", config={},
            loop=Loop(tensorboard=str(folder), check_every=2))  # fmt: skip
    if importlib.util.find_spec("tensorboard") is None:
        assert [r.getMessage() for r in caplog.records] == [MISSING]
        assert not folder.exists()
    else:
        assert list(folder.glob("events.out.tfevents.*"))


def test_a_cuda_device_turns_on_cudnn_autotuning_and_tf32(monkeypatch):
    from mgi.train.loop import pick_device

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    try:
        cudnn.benchmark = cudnn.allow_tf32 = matmul.allow_tf32 = False
        pick_device("cpu")
        assert not cudnn.benchmark and not matmul.allow_tf32
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert pick_device("cuda") == torch.device("cuda")
        assert cudnn.benchmark and cudnn.allow_tf32 and matmul.allow_tf32
    finally:
        cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = before


def test_resume_mid_epoch_with_loader_workers_matches_an_uninterrupted_run(tmp_path):
    straight = _model()
    fit(straight, _task(), OPT, ckpt_dir=tmp_path / "a", config={})
    kill = _interrupt_at(7, lambda: os.kill(os.getpid(), signal.SIGUSR1))  # mid epoch 2
    two = Loop(workers=2)
    with pytest.raises(StopRequested):
        fit(_model(), _task(kill), OPT, ckpt_dir=tmp_path / "b", config={}, loop=two)
    resumed = _model()
    fit(resumed, _task(), OPT, ckpt_dir=tmp_path / "b", config={}, loop=two)
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=0)


def test_loop_knobs_of_a_config_section(repo):
    """What the training rules pass: the section's scheduler keys, TensorBoard beside the log."""
    import mgi.config

    config = mgi.config.load([], workdir=repo)
    section = {**config["finetune"], "workers": 2, "checkpoint_minutes": 0}
    assert Loop.of_section(section, "logs/finetune/mgi.log") == Loop(2, 0, tensorboard="")
    board = Loop.of_section({**section, "tensorboard": True}, "logs/finetune/mgi.log")
    assert board.tensorboard == "logs/finetune/mgi.tensorboard"
