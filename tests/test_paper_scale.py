"""The paper's run at its real shapes on the CPU: every model of configs/tcga-lgg.yaml builds
and takes one forward + backward step (batch 2, 256 x 256, the real gene count), so shape and
memory errors show before a GPU is rented. Times and peak memory: benchmarks/paper_scale_step.py.
"""

from __future__ import annotations

import pytest

import mgi.config
from mgi.train import shapes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paper(repo):
    return mgi.config.load([repo / "configs/tcga-lgg.yaml"])


@pytest.mark.parametrize("name", shapes.MODELS)
def test_paper_scale_model_takes_a_step(paper, name):
    out = shapes.step(paper, name, batch=2)
    assert out["size"] == 256 and out["genes"] == paper["expression"]["top_k_variance"]
    if name in ("pretrain:mamba", "mgi"):  # Mamba over >= 5,000 gene tokens
        assert out["genes"] // paper["model"]["genes"]["patch_size"] >= 5000
    assert out["parameters"] > 1_000_000, "paper-scale models are not toys"
