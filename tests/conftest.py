"""Shared fixtures: tiny sizes so the suite runs in minutes on 2 CPU cores, never the internet."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
