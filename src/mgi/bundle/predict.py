"""``mgi predict``: a bundle's models on new patients listed in a sheet.

Per case (``mgi.bundle.inputs`` reads the row): the FLAIR goes through the bundle's
preprocessing (the slice store's, exactly), every model predicts every slice, an ensemble
averages the probabilities, and the mask (probability >= the bundle's threshold) goes back to
the FLAIR's own grid and affine. Written per case into ``out/<case_id>/`` (atomically):
``mask.nii.gz`` (NIfTI input) or ``mask/<name>_<n>_mask.tif`` (0/255, kaggle_3m input),
``qc.png`` (FLAIR with the predicted outline) and ``prob.npz`` (``prob`` float16 (S, size,
size) at the model's resolution, as the pipeline's ``predictions.npz``). Then
``out/predictions.tsv``: ``case_id, tumour_voxels, tumour_ml, genes_used, missing_genes,
n_models`` and, for cases with a ``mask``, :func:`mgi.metrics.patient_metrics` (``dice``,
``hd95`` in model-resolution voxels, ...). A bad row stops naming the case and the file; with
``keep_going`` it is skipped and listed in ``out/skipped.tsv``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from mgi.atomic import atomic_path
from mgi.bundle.genes import MAX_MISSING, match_genes, read_expression
from mgi.bundle.inputs import Flair, Row, load_flair, read_predict_sheet
from mgi.bundle.load import Bundle, open_bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """How ``mgi predict`` runs (none of these change a probability)."""

    batch_size: int = 64  # slices per forward pass
    device: str = "cpu"  # cpu, cuda or auto
    max_missing: float = MAX_MISSING  # share of a model's genes an expression file may lack
    keep_going: bool = False  # skip bad rows (listed) instead of stopping


def model_input(flair: Flair, bundle: Bundle) -> np.ndarray:
    """``(S, size, size)`` float32: the slice store's preprocessing of one FLAIR."""
    from mgi.imaging.volume import normalise, resize_stack

    prep = bundle.mgi["preprocessing"]
    size = (prep["size"], prep["size"])
    image = normalise(flair.stack, tuple(prep["clip_percentiles"]))
    return resize_stack(image, size, mode="bilinear").astype(np.float16).astype(np.float32)


def gene_vectors(row: Row, bundle: Bundle, opts: Options) -> tuple[list, float]:
    """Per model its z-scored gene vector (None: no genes), and the largest missing share."""
    m = bundle.mgi
    if not m["uses_genes"]:
        if row.expression is not None:
            log.info("case %s: run %s reads no genes; expression ignored", row.case_id, m["run"])
        return [None] * len(bundle.models), float("nan")
    if row.expression is None:
        if m["needs_genes"]:
            raise ValueError(
                f"case {row.case_id}: no expression file, and run {m['run']} needs RNA-seq (it"
                " was trained with genes only); add the case's STAR-Counts or gene_id,tpm file"
                " in the sheet's expression column, or use a bundle trained with"
                " finetune.gene_dropout"
            )
        return [None] * len(bundle.models), float("nan")
    try:
        values = read_expression(row.expression, m["expression"]["measure"])
        matches = [
            match_genes(
                values,
                mod.gene_ids,
                mod.mean,
                mod.std,
                path=row.expression,
                max_missing=opts.max_missing,
            )
            for mod in bundle.models
        ]
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f"case {row.case_id}: {err}") from None
    return [g.zscored for g in matches], max(g.missing for g in matches)


@torch.no_grad()
def probabilities(images: np.ndarray, genes: list, bundle: Bundle, opts: Options) -> np.ndarray:
    """Mean over the bundle's models of the sigmoid probabilities, ``(S, H, W)`` float16."""
    from mgi.train.loop import pick_device

    device = pick_device(opts.device)
    total = np.zeros(images.shape, dtype=np.float32)
    for model, vec in zip(bundle.models, genes, strict=True):
        net = model.net.to(device)
        for start in range(0, len(images), opts.batch_size):
            x = torch.from_numpy(images[start : start + opts.batch_size]).unsqueeze(1).to(device)
            g = None
            if vec is not None:
                g = torch.from_numpy(vec).to(device).expand(len(x), -1)
            prob = torch.sigmoid(net(x, g).float())[:, 0].cpu().numpy()
            total[start : start + len(x)] += prob
    return (total / len(bundle.models)).astype(np.float16)


def _write_case(row: Row, flair: Flair, images, prob, pred, tmp: Path) -> int:
    """The case's outputs into folder ``tmp``; returns the tumour voxels on the native grid."""
    from mgi.imaging.qc import montage, pick_rows
    from mgi.imaging.volume import resize_stack

    native = resize_stack(pred, flair.stack.shape[1:], mode="nearest").astype(np.uint8)
    if flair.kind == "nifti":
        from mgi.imaging.writeback import write_prediction_nifti

        write_prediction_nifti(pred, row.flair, tmp / "mask.nii.gz")
    else:
        import tifffile

        (tmp / "mask").mkdir()
        for sl, src in zip(native, flair.tiffs, strict=True):
            tifffile.imwrite(tmp / "mask" / f"{src.stem}_mask.tif", (sl * 255).astype(np.uint8))
    show = pick_rows(pred.reshape(len(pred), -1).sum(1), 12)
    labels = [f"slice {k}" for k in show]
    montage(images[show], pred[show], labels, f"{row.case_id}: predicted", tmp / "qc.png")
    with open(tmp / "prob.npz", "wb") as fh:
        np.savez_compressed(fh, prob=prob)
    return int(native.sum())


def predict_case(row: Row, bundle: Bundle, opts: Options, out_dir: Path) -> dict:
    """Predict one row, write its folder, return its ``predictions.tsv`` record."""
    from mgi import metrics
    from mgi.imaging.volume import resize_stack

    genes, missing = gene_vectors(row, bundle, opts)
    flair = load_flair(row)
    images = model_input(flair, bundle)
    prob = probabilities(images, genes, bundle, opts)
    pred = (prob.astype(np.float32) >= bundle.mgi["threshold"]).astype(np.uint8)
    with atomic_path(out_dir / row.case_id, directory=True) as tmp:
        voxels = _write_case(row, flair, images, prob, pred, tmp)
    record = {
        "case_id": row.case_id,
        "tumour_voxels": voxels,
        "tumour_ml": voxels * flair.voxel_ml,
        "genes_used": genes[0] is not None,
        "missing_genes": missing,
        "n_models": len(bundle.models),
    }
    if flair.mask is not None:
        size = images.shape[1:]
        target = resize_stack(flair.mask, size, mode="nearest").astype(bool)
        record |= metrics.patient_metrics(pred.astype(bool), target)
    return record


def predict_sheet(
    bundle_path: str | Path, sheet: str | Path, out_dir: str | Path, opts: Options = Options()
) -> pd.DataFrame:
    """Predict every row of ``sheet`` with the bundle; write ``out_dir`` (see the module doc).

    Returns the ``predictions.tsv`` table. A bad row raises (case and file named) unless
    ``opts.keep_going``; then it is logged, skipped and listed in ``skipped.tsv``.
    """
    bundle = open_bundle(bundle_path)
    rows = read_predict_sheet(sheet)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, skipped = [], []
    for row in tqdm(rows, desc="predict", unit="case"):
        try:
            records.append(predict_case(row, bundle, opts, out_dir))
        except (ValueError, FileNotFoundError, OSError) as err:
            if not opts.keep_going:
                raise
            log.error("skipped: %s", err)
            skipped.append({"case_id": row.case_id, "reason": str(err)})
    table = pd.DataFrame.from_records(records, columns=_columns(records))
    with atomic_path(out_dir / "predictions.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(out_dir / "skipped.tsv") as tmp:
        pd.DataFrame(skipped, columns=["case_id", "reason"]).to_csv(tmp, sep="\t", index=False)
    if skipped:
        log.warning(
            "%d of %d cases skipped: %s (see %s)",
            len(skipped),
            len(rows),
            [s["case_id"] for s in skipped],
            out_dir / "skipped.tsv",
        )
    log.info("%d cases predicted with %s -> %s", len(table), bundle.mgi["run"], out_dir)
    return table


def _columns(records: list[dict]) -> list[str]:
    base = ["case_id", "tumour_voxels", "tumour_ml", "genes_used", "missing_genes", "n_models"]
    extra = [k for r in records for k in r if k not in base]
    return base + list(dict.fromkeys(extra))
