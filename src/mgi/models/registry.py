"""Builders: every size is fixed here (SAM's ``build_sam``), models take parts as arguments.

``genes``/``image``/``fusion``/``baselines`` are the option dicts of config ``model:``; each
gene encoder uses the options that concern it (``GENE_OPTIONS`` lists all; others are ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mgi.models import baselines as seg
from mgi.models.baselines_gene import GroupAttentionBlock, MLPGeneEncoder, TransformerBlock
from mgi.models.fusion_decoder import FusionDecoder
from mgi.models.gene_encoder import GeneEncoder, GeneTokenizer
from mgi.models.image_encoder import build_image_encoder
from mgi.models.mamba_block import MIXERS, BiMamba, ResidualBlock
from mgi.models.mgi import MGIPretrain, MGISegmenter
from mgi.models.pooling import TokenPooling
from mgi.models.two_way_transformer import TwoWayTransformer

GENE_DEFAULTS: dict[str, Any] = {
    "d_model": 32,  # token width
    "layers": 1,  # residual blocks
    "patch_size": 16,  # neighbouring genes per token
    "d_state": 8,  # Mamba state size N
    "d_conv": 4,  # Mamba causal conv width
    "expand": 2,  # Mamba inner width = expand * d_model
    "bidirectional": True,  # Mamba: forward + backward scan (gene order has no direction)
    "block": "mamba1",  # Mamba: mamba1 (selective scan) or mamba2 (SSD; heads split d_inner)
    "scan": "auto",  # runtime, not a build option: mgi.models.scan.set_mode (the same math)
    "heads": 4,  # transformer / group attention heads
    "group_size": 16,  # group attention: tokens per group
    "tokens": 8,  # MLP: output tokens
    "hidden": 256,  # MLP: hidden width
}
GENE_OPTIONS = frozenset(GENE_DEFAULTS)
IMAGE_DEFAULTS: dict[str, Any] = {"preset": "tiny", "patch_size": 8, "depth": None}
FUSION_DEFAULTS: dict[str, Any] = {
    "gene_tokens": 8,
    "heads": 4,
    "depth": 2,
    "dim": 64,
    "mlp_dim": 128,
}
BASELINE_DEFAULTS: dict[str, Any] = {"channels": (16, 32, 64, 128, 256), "encoder": "resnet18"}


def _options(given: dict[str, Any] | None, defaults: dict[str, Any], what: str) -> dict[str, Any]:
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {what} options {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **(given or {})}


def _tokenizer(n_genes: int, o: dict[str, Any]) -> GeneTokenizer:
    return GeneTokenizer(n_genes=n_genes, dim=o["d_model"], patch_size=o["patch_size"])


def _mamba(n_genes: int, o: dict[str, Any]) -> GeneEncoder:
    kw = dict(d_model=o["d_model"], d_state=o["d_state"], d_conv=o["d_conv"], expand=o["expand"])
    if o["block"] not in MIXERS:
        raise ValueError(f"model.genes.block: {o['block']!r} is not one of {sorted(MIXERS)}")
    if o["block"] == "mamba2":
        kw["heads"] = o["heads"]
    one = MIXERS[o["block"]]
    mixer = (lambda: BiMamba(o["block"], **kw)) if o["bidirectional"] else (lambda: one(**kw))
    blocks = [ResidualBlock(mixer=mixer(), dim=o["d_model"]) for _ in range(o["layers"])]
    return GeneEncoder(tokenizer=_tokenizer(n_genes, o), blocks=blocks, dim=o["d_model"])


def _transformer(n_genes: int, o: dict[str, Any]) -> GeneEncoder:
    blocks = [TransformerBlock(dim=o["d_model"], heads=o["heads"]) for _ in range(o["layers"])]
    return GeneEncoder(tokenizer=_tokenizer(n_genes, o), blocks=blocks, dim=o["d_model"])


def _group_attention(n_genes: int, o: dict[str, Any]) -> GeneEncoder:
    blocks = [
        GroupAttentionBlock(dim=o["d_model"], heads=o["heads"], group_size=o["group_size"])
        for _ in range(o["layers"])
    ]
    return GeneEncoder(tokenizer=_tokenizer(n_genes, o), blocks=blocks, dim=o["d_model"])


def _mlp(n_genes: int, o: dict[str, Any]) -> MLPGeneEncoder:
    return MLPGeneEncoder(
        n_genes=n_genes,
        dim=o["d_model"],
        hidden=o["hidden"],
        layers=o["layers"],
        tokens=o["tokens"],
    )


GENE_ENCODERS: dict[str, Callable[[int, dict[str, Any]], nn.Module]] = {
    "mamba": _mamba,
    "transformer": _transformer,
    "mlp": _mlp,
    "group_attention": _group_attention,
}


def build_gene_encoder(name: str, *, n_genes: int, **options: Any) -> nn.Module:
    """Gene encoder ``name`` (mamba, transformer, mlp, group_attention): (B, G) -> (B, L, C)."""
    if name not in GENE_ENCODERS:
        raise ValueError(f"unknown gene encoder {name!r}; known: {sorted(GENE_ENCODERS)}")
    return GENE_ENCODERS[name](n_genes, _options(options, GENE_DEFAULTS, "gene encoder"))


def build_pretrain_model(
    *,
    gene_encoder: str = "mamba",
    n_genes: int,
    img_size: int,
    image: dict | None = None,
    genes: dict | None = None,
    embed_dim: int = 64,
    fusion: dict | None = None,
    baselines: dict | None = None,
) -> MGIPretrain:
    """:class:`MGIPretrain` (``fusion``, ``baselines`` accepted: config ``model:`` passes whole)."""
    img = _options(image, IMAGE_DEFAULTS, "image encoder")
    gen = _options(genes, GENE_DEFAULTS, "gene encoder")
    return MGIPretrain(
        image_encoder=build_image_encoder(img_size=img_size, **img),
        gene_encoder=build_gene_encoder(gene_encoder, n_genes=n_genes, **gen),
        gene_dim=gen["d_model"],
        embed_dim=embed_dim,
    )


def _build_mgi(
    *,
    with_genes: bool,
    gene_encoder: str,
    n_genes: int,
    img_size: int,
    image: dict | None,
    genes: dict | None,
    fusion: dict | None,
    no_genes_token: bool = False,
) -> MGISegmenter:
    img = _options(image, IMAGE_DEFAULTS, "image encoder")
    gen = _options(genes, GENE_DEFAULTS, "gene encoder")
    fus = _options(fusion, FUSION_DEFAULTS, "fusion")
    vit = build_image_encoder(img_size=img_size, **img)
    dim = fus["dim"]
    transformer = TwoWayTransformer(
        depth=fus["depth"], dim=dim, heads=fus["heads"], mlp_dim=fus["mlp_dim"]
    )
    decoder = FusionDecoder(
        transformer=transformer,
        dim=dim,
        image_dim=vit.dim,
        gene_dim=gen["d_model"],
    )
    encoder = pool = None
    if with_genes:
        encoder = build_gene_encoder(gene_encoder, n_genes=n_genes, **gen)
        pool = TokenPooling(
            dim=gen["d_model"],
            tokens=fus["gene_tokens"],
            heads=_divisor_heads(gen["d_model"], fus["heads"]),
        )
    return MGISegmenter(
        image_encoder=vit,
        gene_encoder=encoder,
        gene_pool=pool,
        decoder=decoder,
        no_genes_token=no_genes_token,
    )


def _divisor_heads(dim: int, heads: int) -> int:
    """The largest head count <= heads that divides dim."""
    return max(h for h in range(1, heads + 1) if dim % h == 0)


def build_segmentation_model(
    name: str,
    *,
    img_size: int,
    n_genes: int,
    gene_encoder: str = "mamba",
    image: dict | None = None,
    genes: dict | None = None,
    embed_dim: int = 64,
    fusion: dict | None = None,
    baselines: dict | None = None,
    no_genes_token: bool = False,
) -> nn.Module:
    """Segmentation model ``name`` -> module with forward(images (B,1,H,W), genes (B,G) | None)
    -> logits (B, 1, H, W). Names: mgi, image_only, unet, resunet, deeplabv3plus, attention_unet.
    ``no_genes_token``: mgi with a learned "no genes" token (``finetune.gene_dropout``)."""
    if no_genes_token and name != "mgi":
        raise ValueError(f"a no-genes token needs the mgi model, not {name!r}")
    if name in ("mgi", "image_only"):
        return _build_mgi(
            with_genes=name == "mgi",
            no_genes_token=no_genes_token,
            gene_encoder=gene_encoder,
            n_genes=n_genes,
            img_size=img_size,
            image=image,
            genes=genes,
            fusion=fusion,
        )
    if name not in SEGMENTATION_BASELINES:
        raise ValueError(f"unknown segmentation model {name!r}; known: {SEGMENTATION_MODELS}")
    opts = _options(baselines, BASELINE_DEFAULTS, "baselines")
    if name == "deeplabv3plus":
        return SEGMENTATION_BASELINES[name](encoder=opts["encoder"])
    return SEGMENTATION_BASELINES[name](channels=opts["channels"])


SEGMENTATION_BASELINES: dict[str, Callable[..., nn.Module]] = {
    "unet": seg.build_unet,
    "resunet": seg.build_resunet,
    "deeplabv3plus": seg.build_deeplabv3plus,
    "attention_unet": seg.build_attention_unet,
}
SEGMENTATION_MODELS = ("mgi", "image_only", *SEGMENTATION_BASELINES)
