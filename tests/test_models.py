"""Models over the registry: forward, backward, shapes, no NaN (tiny sizes)."""

import pytest
import torch

from mgi.models import (
    GENE_ENCODERS,
    SEGMENTATION_MODELS,
    MGIPretrain,
    build_gene_encoder,
    build_image_encoder,
    build_pretrain_model,
    build_segmentation_model,
)

N_GENES, IMG = 50, 32
TINY = {
    "image": {"preset": "tiny", "patch_size": 8, "depth": 1},
    "genes": {
        "d_model": 16,
        "layers": 1,
        "patch_size": 4,
        "d_state": 4,
        "heads": 2,
        "group_size": 4,
        "tokens": 3,
        "hidden": 32,
    },
    "embed_dim": 8,
    "fusion": {"gene_tokens": 3, "heads": 2, "depth": 1, "dim": 32, "mlp_dim": 32},
    "baselines": {"channels": [4, 8, 16, 32, 64]},
}


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 1, IMG, IMG, generator=g), torch.randn(2, N_GENES, generator=g)


@pytest.mark.parametrize("name", sorted(GENE_ENCODERS))
def test_gene_encoder_tokens(name):
    enc = build_gene_encoder(name, n_genes=N_GENES, **TINY["genes"])
    x = torch.randn(3, N_GENES, requires_grad=True)
    tokens = enc(x)
    expected_len = 3 if name == "mlp" else 13  # ceil(50 / 4)
    assert tokens.shape == (3, expected_len, 16)
    tokens.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_mamba_unidirectional_is_causal():
    enc = build_gene_encoder("mamba", n_genes=N_GENES, **{**TINY["genes"], "bidirectional": False})
    x = torch.randn(1, N_GENES)
    y = x.clone()
    y[0, -1] += 5.0  # changes only the last token
    assert torch.allclose(enc(x)[:, :-1], enc(y)[:, :-1], atol=1e-6)
    bi = build_gene_encoder("mamba", n_genes=N_GENES, **TINY["genes"])
    assert not torch.allclose(bi(x)[:, 0], bi(y)[:, 0], atol=1e-6)


def test_gene_encoder_rejects_wrong_width_and_unknown_options():
    enc = build_gene_encoder("mamba", n_genes=N_GENES, **TINY["genes"])
    with pytest.raises(ValueError, match="50"):
        enc(torch.randn(2, 49))
    with pytest.raises(ValueError, match="unknown gene encoder options"):
        build_gene_encoder("mamba", n_genes=N_GENES, d_modle=8)
    with pytest.raises(ValueError, match="unknown gene encoder"):
        build_gene_encoder("lstm", n_genes=N_GENES)


def test_image_encoder_tokens_and_pooled():
    enc = build_image_encoder("tiny", img_size=IMG, patch_size=8, depth=1)
    tokens, pooled = enc(torch.rand(2, 1, IMG, IMG))
    assert tokens.shape == (2, 192, 4, 4) and pooled.shape == (2, 192)
    with pytest.raises(ValueError, match="multiple"):
        build_image_encoder("tiny", img_size=30, patch_size=8)


@pytest.mark.parametrize("name", sorted(GENE_ENCODERS))
def test_pretrain_model(name, batch):
    model = build_pretrain_model(gene_encoder=name, n_genes=N_GENES, img_size=IMG, **TINY)
    assert isinstance(model, MGIPretrain)
    assert model.logit_scale.item() == pytest.approx(torch.log(torch.tensor(1 / 0.07)).item())
    image_emb, gene_emb = model(*batch)
    assert image_emb.shape == gene_emb.shape == (2, 8)
    torch.testing.assert_close(image_emb.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(gene_emb.norm(dim=-1), torch.ones(2))
    (image_emb * gene_emb).sum().mul(model.logit_scale).backward()
    assert model.logit_scale.grad is not None


@pytest.mark.parametrize("name", SEGMENTATION_MODELS)
def test_segmentation_models(name, batch):
    model = build_segmentation_model(name, img_size=IMG, n_genes=N_GENES, **TINY)
    images, genes = batch
    images.requires_grad_(True)
    logits = model(images, genes)
    assert logits.shape == (2, 1, IMG, IMG)
    assert torch.isfinite(logits).all()
    logits.mean().backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    if name == "mgi":  # trained with genes only: never predicts silently without them
        with pytest.raises(ValueError, match="expression vector"):
            model(images, None)
    else:
        assert model(images, None).shape == (2, 1, IMG, IMG)


def test_mgi_uses_genes_and_image_only_does_not(batch):
    images, genes = batch
    mgi = build_segmentation_model("mgi", img_size=IMG, n_genes=N_GENES, **TINY).eval()
    other = genes.flip(0)
    assert not torch.allclose(mgi(images, genes), mgi(images, other))
    only = build_segmentation_model("image_only", img_size=IMG, n_genes=N_GENES, **TINY).eval()
    torch.testing.assert_close(only(images, genes), only(images, other))


@pytest.mark.parametrize("name", ["mgi", "image_only"])
def test_load_pretrained(name):
    pre = build_pretrain_model(gene_encoder="mamba", n_genes=N_GENES, img_size=IMG, **TINY)
    seg = build_segmentation_model(name, img_size=IMG, n_genes=N_GENES, **TINY)
    seg.load_pretrained(pre.state_dict())
    key = "vit.patch_embed.proj.weight"
    torch.testing.assert_close(
        seg.image_encoder.state_dict()[key], pre.image_encoder.state_dict()[key]
    )
    if name == "mgi":
        for k, v in pre.gene_encoder.state_dict().items():
            torch.testing.assert_close(seg.gene_encoder.state_dict()[k], v)


def test_load_pretrained_mismatch_names_the_part():
    pre = build_pretrain_model(gene_encoder="transformer", n_genes=N_GENES, img_size=IMG, **TINY)
    seg = build_segmentation_model("mgi", img_size=IMG, n_genes=N_GENES, **TINY)
    with pytest.raises(RuntimeError, match="gene_encoder"):
        seg.load_pretrained(pre.state_dict())
    with pytest.raises(RuntimeError, match="image_encoder"):
        seg.load_pretrained({})


def test_unknown_segmentation_model():
    with pytest.raises(ValueError, match="unknown segmentation model"):
        build_segmentation_model("segformer", img_size=IMG, n_genes=N_GENES)
