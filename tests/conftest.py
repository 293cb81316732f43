"""Shared fixtures: tiny sizes so the suite runs in minutes on 2 CPU cores, never the internet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SMALL_CONFIG = REPO / ".ci" / "slurm" / "demo-small.yaml"  # the demo, shrunk for tests


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real sample files beside the checkout (``../shared/data``); skips in a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """A tiny demo cohort (real formats), generated once per test session."""
    from mgi.synthetic import DemoSpec, synthesize

    out = tmp_path_factory.mktemp("demo") / "cohort"
    spec = DemoSpec(patients=6, genes=600, slices=8, size=32, module_genes=50, seed=3)
    return synthesize(spec, out)


@pytest.fixture(scope="session")
def finished_demo(tmp_path_factory) -> Path:
    """The demo DAG, shrunk by .ci/slurm/demo-small.yaml, run to the end once per test session
    (in a copy of the workflow) and shared by every test that reads a finished run: the SLURM
    comparison, bundles, tables. Under pytest-xdist the first worker that asks builds it and the
    others wait for it (a file lock in the session's shared temporary folder). Read-only for the
    tests: a test that changes it must work in a copy."""
    from filelock import FileLock
    from slurm_cluster import SnakemakeRun, copy_workflow

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    work = root / "finished-demo"
    done = root / "finished-demo.rc"
    with FileLock(str(root / "finished-demo.lock")):
        if not done.exists():
            env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
            run = SnakemakeRun(copy_workflow(work, SMALL_CONFIG), "--cores", "2", env=env)
            run.proc.wait(timeout=1200)
            run.poll()
            done.write_text(f"{run.returncode}\n{run.out}")
    returncode, out = done.read_text().split("\n", 1)
    if returncode != "0":
        pytest.fail(f"the shared finished demo failed; see {out}:\n{Path(out).read_text()[-3000:]}")
    return work


# The files that take minutes (whole DAGs, paper-scale steps, training to a Dice), longest first.
# pytest-xdist (--dist loadfile) hands files out in collection order, so starting these first
# keeps the suite's tail short on 2 workers (longest-processing-time-first scheduling).
SLOW_FIRST = (
    "test_slurm.py",
    "test_gene_signal.py",
    "test_paper_scale.py",
    "test_cv.py",
    "test_cache_keys.py",
    "test_bundle_workflow.py",
    "test_imaging_fetch.py",
    "test_config.py",
)


def pytest_collection_modifyitems(config, items):
    """Run the slow files first (see SLOW_FIRST); order within a file is kept."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))
