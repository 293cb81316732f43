"""Scan selection (model.genes.scan): which scan runs, said in one line; never a silent slow
fallback on CUDA. CUDA is faked (torch.cuda.is_available, the kernel imports): runs on the CPU."""

import logging
import sys
import types

import pytest
import torch

from mgi.models import build_gene_encoder, scan
from mgi.models.ssm import selective_scan_chunked


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Every test resolves from scratch, in mode auto."""
    caches = (scan._resolve, scan._probe)
    for cache in caches:
        cache.cache_clear()
    monkeypatch.setattr(scan, "_mode", "auto")
    yield
    for cache in caches:
        cache.cache_clear()


@pytest.fixture
def fake_cuda_without_kernels(monkeypatch):
    """CUDA 'available', mamba-ssm absent (as on a fresh GPU box)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(scan, "_import_selective_scan", lambda: (None, "No module named 'x'"))
    monkeypatch.setattr(scan, "_import_ssd", lambda: (None, "No module named 'x'"))


def _mamba(block="mamba1"):
    return build_gene_encoder(
        "mamba", n_genes=32, d_model=8, patch_size=4, d_state=4, heads=2, block=block
    )


def test_cpu_runs_the_pytorch_scans_and_says_so(caplog):
    caplog.set_level(logging.INFO, logger="mgi.models.scan")
    assert scan.check_scan(_mamba(), "cpu") == [
        "gene encoder scan: PyTorch chunked selective scan (block mamba1, scan auto, cpu)"
    ]
    assert "PyTorch chunked selective scan" in caplog.text
    assert scan.resolve_scan("cpu", "auto", "mamba2").name.startswith("PyTorch chunked SSD")
    assert scan.check_scan(torch.nn.Linear(2, 2), "cpu") == []  # no SSM: nothing to say
    with pytest.raises(scan.ScanUnavailable, match="kernel needs CUDA"):
        scan.resolve_scan("cpu", "kernel")


def test_cuda_without_kernel_stops_with_the_install_command(fake_cuda_without_kernels):
    with pytest.raises(scan.ScanUnavailable) as err:
        scan.check_scan(_mamba(), torch.device("cuda"))
    message = str(err.value)
    assert scan.INSTALL_COMMAND in message and "--no-build-isolation" in message
    assert "model.genes.scan: torch" in message and "block: mamba2" in message


def test_training_job_stops_before_its_first_step(fake_cuda_without_kernels, tmp_path):
    """fit() on (fake) CUDA without the kernel: stops with the message before touching data."""
    from mgi.train.loop import Task, fit
    from mgi.train.specs import Optim

    def untouched(*args):
        raise AssertionError("the job must stop before reading a batch")

    task = Task(dataset=[], batches=untouched, loss=untouched)
    with pytest.raises(scan.ScanUnavailable, match="pip install"):
        fit(_mamba(), task, Optim(device="cuda"), ckpt_dir=tmp_path, config={})


def test_cuda_with_scan_torch_runs_the_pytorch_scan(fake_cuda_without_kernels, caplog):
    caplog.set_level(logging.INFO, logger="mgi.models.scan")
    scan.set_mode("torch")
    (line,) = scan.check_scan(_mamba(), torch.device("cuda"))
    assert "PyTorch chunked selective scan" in line and "allowed by scan: torch" in line
    assert any(r.levelno == logging.WARNING for r in caplog.records)  # slow: said loudly
    chosen = scan.resolve_scan("cuda")
    assert chosen.fn is selective_scan_chunked and chosen.slow and not chosen.kernel
    model = _mamba()  # and it runs (here on the CPU: the same function)
    model(torch.randn(2, 32)).sum().backward()


def test_mamba2_on_cuda_needs_no_kernel(fake_cuda_without_kernels):
    chosen = scan.resolve_scan("cuda", "auto", "mamba2")
    assert chosen.name.startswith("PyTorch chunked SSD") and not chosen.slow
    with pytest.raises(scan.ScanUnavailable, match="Triton SSD"):
        scan.resolve_scan("cuda", "kernel", "mamba2")


def test_kernel_used_where_it_loads_and_runs(monkeypatch):
    """A kernel that imports and matches the PyTorch path is chosen (here: the PyTorch scan
    standing in for it, on the CPU, with CUDA faked)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(scan, "_import_selective_scan", lambda: (selective_scan_chunked, ""))
    monkeypatch.setattr(scan, "_kernel_fn", lambda block: selective_scan_chunked)
    ok, why = scan._probe("mamba1", "cpu")
    assert ok, why
    monkeypatch.setattr(scan, "_probe", lambda block, device: (True, ""))
    chosen = scan.resolve_scan("cuda", "kernel")
    assert chosen.kernel and chosen.name == "mamba-ssm CUDA selective scan"


def test_opt_in_build_that_raises_at_first_call_is_not_a_kernel(monkeypatch):
    """mamba-ssm whose CUDA build is opt-in imports fine, then raises on first use."""

    def first_call(*args, **kwargs):
        raise RuntimeError("selective_scan_cuda is not available: the CUDA build is opt-in")

    monkeypatch.setattr(scan, "_import_selective_scan", lambda: (first_call, ""))
    monkeypatch.setattr(scan, "_kernel_fn", lambda block: first_call)
    ok, why = scan._probe("mamba1", "cpu")
    assert not ok and "first call fails" in why and "opt-in" in why


def test_import_without_compiled_extension_is_not_a_kernel(monkeypatch):
    """selective_scan_cuda is None (mamba-ssm built with MAMBA_SKIP_CUDA_BUILD)."""
    root, ops = types.ModuleType("mamba_ssm"), types.ModuleType("mamba_ssm.ops")
    ssi = types.ModuleType("mamba_ssm.ops.selective_scan_interface")
    ssi.selective_scan_cuda, ssi.selective_scan_fn = None, selective_scan_chunked
    root.ops, ops.selective_scan_interface = ops, ssi
    for name, mod in [("mamba_ssm", root), ("mamba_ssm.ops", ops), (ssi.__name__, ssi)]:
        monkeypatch.setitem(sys.modules, name, mod)
    fn, why = scan._import_selective_scan()
    assert fn is None and "selective_scan_cuda" in why
    ssi.selective_scan_cuda = object()
    assert scan._import_selective_scan()[0] is selective_scan_chunked


def test_scan_report_for_a_preflight(fake_cuda_without_kernels):
    report = scan.scan_report("cpu", block="mamba1")
    assert report["ok"] and report["scan"] == "PyTorch chunked selective scan"
    assert report["parity_ok"] and report["parity_max_abs_err"] < 1e-5
    assert scan.scan_report("cpu", block="mamba2")["parity_ok"]
    failed = scan.scan_report("cuda", block="mamba1")  # no kernel, mode auto
    assert not failed["ok"] and scan.INSTALL_COMMAND in failed["error"]


def test_modes_and_blocks_are_checked():
    with pytest.raises(ValueError, match="scan"):
        scan.set_mode("fast")
    with pytest.raises(ValueError, match="block"):
        scan.resolve_scan("cpu", "auto", "mamba3")
    with pytest.raises(ValueError, match="block"):
        _mamba("mamba3")
