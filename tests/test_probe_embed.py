"""Patient embeddings for Table 2 (mgi.probe.embed): the ViT of a saved model or the
pre-training's own initialisation, slices chosen without masks, genes as z-scored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_inputs import make_inputs

from mgi.models import build_pretrain_model
from mgi.probe.embed import (
    embed_genes,
    embed_images,
    load_encoder,
    random_encoder,
    read_embeddings,
)

IMAGE = {"preset": "tiny", "patch_size": 8, "depth": 1}
MODEL = {"image": IMAGE, "genes": {"d_model": 8, "layers": 1, "patch_size": 4}, "embed_dim": 8}


@pytest.fixture
def inputs(tmp_path):
    return make_inputs(tmp_path / "in", patients=6, slices=4, size=16, genes=20, n_test=2)


def _model(path, seed=0, shift=0.0):
    torch.manual_seed(seed)
    net = build_pretrain_model(gene_encoder="mlp", n_genes=20, img_size=16, **MODEL)
    with torch.no_grad():
        for p in net.image_encoder.parameters():
            p.add_(shift)
    torch.save({"state_dict": net.state_dict(), "model_config": MODEL, "img_size": 16}, path)
    return net


def test_the_random_vit_is_the_pretraining_runs_initialisation():
    torch.manual_seed(4)
    start = build_pretrain_model(gene_encoder="mlp", n_genes=20, img_size=16, **MODEL)
    rand = random_encoder(IMAGE, 16, seed=4)
    for (name, a), b in zip(start.image_encoder.state_dict().items(),
                            rand.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), name


def test_saved_vit_is_applied_and_masks_choose_nothing(inputs, tmp_path):
    net = _model(tmp_path / "model.pt", shift=0.01)
    enc = load_encoder(tmp_path / "model.pt")
    for a, b in zip(net.image_encoder.state_dict().values(), enc.state_dict().values(),
                    strict=True):  # fmt: skip
        assert torch.equal(a, b)
    outs = {
        f: tmp_path / f / "embeddings.parquet"
        for f in ("mgi_pretrained", "image_pretrained_random")
    }
    common = {"split": inputs["split"], "store": inputs["store"],
              "models": {"mgi_pretrained": tmp_path / "model.pt"}, "image": IMAGE}  # fmt: skip
    embed_images(outs, **common)
    cases, pre = read_embeddings(outs["mgi_pretrained"])
    _, rand = read_embeddings(outs["image_pretrained_random"])
    assert len(cases) == 6 and pre.shape == (6, 192) and not np.allclose(pre, rand)
    masks = np.load(inputs["store"] / "masks.npy", mmap_mode="r+")
    masks[:] = 1 - masks[:]  # other masks: the same embeddings
    masks.flush()
    embed_images({"mgi_pretrained": tmp_path / "again.parquet"}, **common)
    assert np.array_equal(read_embeddings(tmp_path / "again.parquet")[1], pre)
    embed_images({"mgi_pretrained": tmp_path / "mean.parquet"}, **common, pool="mean")
    assert not np.allclose(read_embeddings(tmp_path / "mean.parquet")[1], pre)


def test_genes_are_the_zscored_expression(inputs, tmp_path):
    from mgi.data import zscore
    from mgi.expression import read_matrix, read_zscore

    embed_genes(tmp_path / "genes.parquet", split=inputs["split"], matrix=inputs["matrix"],
                zscore=inputs["zscore"])  # fmt: skip
    cases, values = read_embeddings(tmp_path / "genes.parquet")
    expected = zscore(read_matrix(inputs["matrix"]), *read_zscore(inputs["zscore"]))
    assert np.allclose(values, expected.loc[cases].to_numpy())


def test_bad_models_stop_naming_the_file(inputs, tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_encoder(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="need a model.pt"):
        embed_images({"mgi_finetuned": tmp_path / "x.parquet"}, split=inputs["split"],
                     store=inputs["store"])  # fmt: skip
