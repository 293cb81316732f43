"""Models: ViT image encoder, gene encoders (Mamba and baselines), MGI, segmentation baselines.

Build models through the registry functions; sizes live only there.
"""

from mgi.models.image_encoder import ImageEncoder, build_image_encoder
from mgi.models.mgi import MGIPretrain, MGISegmenter
from mgi.models.registry import (
    GENE_ENCODERS,
    SEGMENTATION_MODELS,
    build_gene_encoder,
    build_pretrain_model,
    build_segmentation_model,
)

__all__ = [
    "GENE_ENCODERS",
    "SEGMENTATION_MODELS",
    "ImageEncoder",
    "MGIPretrain",
    "MGISegmenter",
    "build_gene_encoder",
    "build_image_encoder",
    "build_pretrain_model",
    "build_segmentation_model",
]
