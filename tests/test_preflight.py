"""``mgi preflight``: timed steps of each training job on synthetic inputs, failures in one line."""

from __future__ import annotations

import json

import pytest
import torch

from mgi import cli
from mgi.config import load
from mgi.preflight import measure, preflight
from mgi.preflight.jobs import training_jobs


@pytest.fixture(scope="module")
def demo(repo):
    return load([repo / "config.yaml"])


@pytest.mark.slow
def test_preflight_on_the_demo_config_writes_the_figures_and_passes(repo, tmp_path):
    out = tmp_path / "pf"
    argv = ["preflight", "--configfile", str(repo / "config.yaml"), "--device", "cpu",
            "--steps", "2", "--warmup", "1", "--out", str(out), "--store", str(tmp_path / "no"),
            "--job", "pretrain mamba", "--job", "finetune mgi"]  # fmt: skip
    assert cli.main(argv) == 0
    report = json.loads((out / "preflight.json").read_text())
    assert report["ok"] and report["failures"] == []
    assert report["environment"]["torch"] == torch.__version__
    assert report["scan"]["ok"] and report["scan"]["parity_max_abs_err"] < 1e-3
    assert [j["job"] for j in report["jobs"]] == ["pretrain mamba", "finetune mgi"]
    for job in report["jobs"]:
        assert job["steps_per_s"] > 0 and job["peak_memory_mb"] > 0
        assert job["loader_items_per_s"] > 0 and job["model_items_per_s"] > 0
        assert job["steps_per_run"] > 0 and job["hours"] > 0 and job["error"] is None
    assert report["estimate"]["wall_hours"] > 0
    assert "Estimated wall time of the whole run" in (out / "preflight.md").read_text()


def test_the_jobs_are_the_dags_distinct_training_jobs(demo):
    labels = [j.label for j in training_jobs(demo)]
    assert labels[0] == "pretrain mamba" and len(labels) == 1 + 7
    config = {**demo, "pretrain": {**demo["pretrain"], "gene_encoders": ["mamba", "mlp"]}}
    assert [j.label for j in training_jobs(config)][-1] == "finetune mgi-mlp"


def test_cuda_without_cuda_is_one_line_and_no_traceback(repo, tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["preflight", "--configfile", str(repo / "config.yaml"), "--device", "cuda",
            "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) != 0
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "sees no CUDA device" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "preflight.json").exists()


def test_out_of_memory_names_the_largest_batch_that_fits(demo, monkeypatch):
    def fake(job, config, device, *, batch, **kw):
        if batch > 5:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {}

    monkeypatch.setattr(measure, "timed_steps", fake)
    report = preflight(demo, device="cpu", steps_timed=1, warmup=0, jobs=["finetune unet"])
    assert not report["ok"] and report["jobs"][0]["largest_batch"] == 5
    assert report["failures"] == [
        "finetune unet: out of memory at finetune.batch_size 16 on cpu; "
        "the largest batch that fits is 5"
    ]
    assert measure.largest_batch(lambda b: b <= 1, 16, smallest=2) is None


def test_a_non_finite_loss_and_a_slow_scan_fail_in_one_line_each(demo, monkeypatch):
    monkeypatch.setattr(measure, "_step", lambda *a: torch.tensor(float("nan")))
    slow = "model.genes.scan: auto on cuda needs the mamba-ssm CUDA selective scan: pip install x"
    monkeypatch.setattr(
        "mgi.models.scan.scan_report",
        lambda device, mode, block: {"ok": False, "error": slow, "scan": None},
    )
    report = preflight(demo, device="cpu", steps_timed=1, warmup=0, jobs=["finetune unet"])
    assert report["failures"][0] == slow
    assert report["failures"][1].startswith("finetune unet: the loss is not finite within 1 steps")
    assert len(report["failures"]) == 2 and all("\n" not in f for f in report["failures"])
