"""Patient embeddings for Table 2: an image encoder applied to a patient's slices, pooled.

Feature sets (config ``probe.features``):

``mgi_pretrained``           the ViT of the contrastive pre-training (``pretrain/<enc>/model.pt``)
``image_pretrained_random``  the same ViT at the pre-training run's own initialisation (the same
                             seed and builder, no training): what pre-training added
``image_only_finetuned``     the ViT of the fine-tuned ``image_only`` segmenter
``mgi_finetuned``            the ViT of the fine-tuned ``mgi`` segmenter
``genes``                    the z-scored expression vector itself (training-patient statistics)

Which slices are pooled is chosen from the images alone, never from masks: ``brain`` keeps each
patient's slices whose brain area is at least ``brain_share`` of its largest
(:func:`mgi.data.brain_slices`, as the retrieval test uses). Each slice gives one vector
(``pool``: ``token``, the ViT's own pooled output, its class token as timm pools it; or ``mean``,
the mean of the patch tokens), and a patient's embedding is the mean over its slices.

Embeddings are written as ``embeddings.parquet`` in the expression matrix's layout
(:mod:`mgi.expression.matrix_io`: ``case_id`` + ``values`` ``fixed_size_list<float32>``), so
anything that reads the matrix reads them.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mgi.data import Cohort, StoreRows, brain_slices
from mgi.expression.matrix_io import read_matrix, write_matrix
from mgi.models.image_encoder import ImageEncoder, build_image_encoder

log = logging.getLogger(__name__)

IMAGE_FEATURES = (
    "mgi_pretrained",
    "image_pretrained_random",
    "image_only_finetuned",
    "mgi_finetuned",
)
FEATURES = (*IMAGE_FEATURES, "genes")
POOLS = ("token", "mean")


def slice_rows(store, case_ids: list[str], *, brain_share: float) -> Cohort:
    """The slices pooled per patient (``brain``: chosen from the images, no mask read)."""
    index = store.index
    pos = {c: i for i, c in enumerate(case_ids)}
    rows = np.flatnonzero(index["case_id"].isin(pos).to_numpy()).astype(np.int64)
    missing = sorted(set(case_ids) - set(index["case_id"].iloc[rows]))
    if missing:
        raise ValueError(f"{store.path}: no slices for patients {missing[:5]}")
    patient = np.array([pos[c] for c in index["case_id"].to_numpy()[rows]], dtype=np.int64)
    empty = np.zeros((len(case_ids), 0), dtype=np.float32)
    cohort = Cohort(tuple(case_ids), rows, patient, empty, ())
    return brain_slices(cohort, store.images, share=brain_share)


def load_encoder(model_path: str | Path) -> ImageEncoder:
    """The ViT of a pre-trained or fine-tuned ``model.pt`` (its own recorded model options)."""
    path = Path(model_path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        options, img_size = saved["model_config"]["image"], int(saved["img_size"])
        state = saved["state_dict"]
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path}: not an MGI model with a ViT image encoder ({err!r})") from None
    prefix = "image_encoder."
    own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not own:
        raise ValueError(f"{path}: holds no image_encoder weights (a baseline?)")
    encoder = build_image_encoder(img_size=img_size, **options)
    encoder.load_state_dict(own)
    return encoder


def random_encoder(options: dict[str, Any], img_size: int, seed: int) -> ImageEncoder:
    """The ViT as the pre-training run initialises it (``torch.manual_seed(seed)``, then the ViT
    is the first module :func:`mgi.models.build_pretrain_model` builds)."""
    torch.manual_seed(seed)
    return build_image_encoder(img_size=img_size, **options)


@torch.no_grad()
def image_embeddings(
    encoder: ImageEncoder,
    images: np.ndarray,
    cohort: Cohort,
    *,
    pool: str = "token",
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(P, C) float32: per patient of ``cohort``, the mean over its slices of the pooled ViT
    output."""
    if pool not in POOLS:
        raise ValueError(f"probe.pool must be one of {POOLS}, got {pool!r}")
    encoder = encoder.to(device).eval()
    rows = StoreRows(images, cohort.rows)
    sums = torch.zeros(len(cohort.case_ids), encoder.dim, dtype=torch.float64)
    starts = range(0, len(rows), batch_size)
    for start in tqdm(starts, desc="embed", unit="batch", leave=False):
        x = torch.from_numpy(rows[start : start + batch_size].astype(np.float32))[:, None]
        tokens, pooled = encoder(x.to(device))
        vec = pooled if pool == "token" else tokens.flatten(2).mean(-1)
        who = torch.from_numpy(cohort.patient[start : start + batch_size])
        sums.index_add_(0, who, vec.double().cpu())
    counts = np.bincount(cohort.patient, minlength=len(cohort.case_ids))
    if (counts == 0).any():
        raise ValueError(f"patients without a slice: {np.array(cohort.case_ids)[counts == 0]}")
    out = (sums.numpy() / counts[:, None]).astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError("image embeddings hold NaN/infinite values")
    return out


def gene_embeddings(matrix: str | Path, zscore_path: str | Path, case_ids: list[str]):
    """(P, G) float32: the z-scored expression of ``case_ids`` (training-patient statistics)."""
    from mgi.data import zscore
    from mgi.expression import read_zscore

    mean, std = read_zscore(zscore_path)
    expression = zscore(read_matrix(matrix), mean, std)
    missing = sorted(set(case_ids) - set(expression.index))
    if missing:
        raise ValueError(f"{matrix}: no expression for patients {missing[:5]}")
    return expression.loc[case_ids].to_numpy(np.float32), list(map(str, expression.columns))


def write_embeddings(path, values: np.ndarray, case_ids, names=None, provenance=None) -> None:
    """``embeddings.parquet`` (``case_id`` + ``values``; dimension names in the metadata)."""
    names = names or [f"dim{i}" for i in range(values.shape[1])]
    write_matrix(path, values, case_ids, names, provenance)


def read_embeddings(path: str | Path):
    """(case_ids, (P, C) float32) of ``embeddings.parquet``."""
    table = read_matrix(path)
    values = table.to_numpy(np.float32)
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: embeddings hold NaN/infinite values")
    return [str(c) for c in table.index], values


def split_cases(split: str | Path) -> list[str]:
    """Every patient of a (fold's) ``split.tsv``: training, validation and test."""
    import pandas as pd

    table = pd.read_csv(split, sep="\t")
    if "case_id" not in table:
        raise ValueError(f"{split}: no case_id column")
    return table["case_id"].astype(str).tolist()


def embed_genes(out, *, split, matrix, zscore, config: Any = None) -> Path:
    """Write the ``genes`` features (z-scored expression) of every patient of ``split``."""
    from mgi.provenance import provenance

    cases = split_cases(split)
    values, names = gene_embeddings(matrix, zscore, cases)
    write_embeddings(out, values, cases, names, provenance(config))
    log.info("genes embeddings: %d patients x %d -> %s", *values.shape, out)
    return Path(out)


def embed_images(
    outs: Mapping[str, str | Path],
    *,
    split: str | Path,
    store: str | Path,
    models: Mapping[str, str | Path] | None = None,
    image: dict[str, Any] | None = None,
    seed: int = 0,
    pool: str = "token",
    brain_share: float = 0.5,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    config: Any = None,
) -> dict[str, Path]:
    """Write each image feature set's embeddings (``outs``: features -> path) of every patient
    of ``split``; the slices are chosen once. ``image_pretrained_random`` builds the ViT from
    ``image`` (config ``model.image``) and ``seed`` (the first of ``pretrain.seeds``); the
    others apply the ViT of ``models[features]``."""
    from mgi.imaging.store import SliceStore
    from mgi.provenance import provenance

    models = dict(models or {})
    unknown = set(outs) - set(IMAGE_FEATURES)
    if unknown:
        raise ValueError(f"image features must be among {IMAGE_FEATURES}, got {sorted(unknown)}")
    lacking = set(outs) - set(models) - {"image_pretrained_random"}
    if lacking:
        raise ValueError(f"features {sorted(lacking)} need a model.pt each")
    cases = split_cases(split)
    slices = SliceStore(store)
    cohort = slice_rows(slices, cases, brain_share=brain_share)
    log.info("%d patients, %d slices (brain area >= %g of the patient's largest), pool %s",
             len(cases), len(cohort.rows), brain_share, pool)  # fmt: skip
    for features, out in outs.items():
        if features == "image_pretrained_random":
            encoder = random_encoder(image or {}, int(slices.images.shape[-1]), seed)
        else:
            encoder = load_encoder(models[features])
        values = image_embeddings(encoder, slices.images, cohort, pool=pool,
                                  batch_size=batch_size, device=device)  # fmt: skip
        write_embeddings(out, values, cases, None, provenance(config, seed))
        log.info("%s embeddings: %d patients x %d -> %s", features, *values.shape, out)
    return {k: Path(v) for k, v in outs.items()}
