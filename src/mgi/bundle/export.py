"""``mgi export``: a fine-tuned run -> one self-contained bundle (a zip; :mod:`mgi.bundle.layout`).

The K fold models of a cross-validated run (an ensemble: their probabilities are averaged, as
nnU-Net does) or the single holdout model, each with its config, gene list and z-score
statistics; the image preprocessing of the slice store; the threshold; provenance; a model card
and the data licence. Running it needs the ``mgi`` package only.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mgi.atomic import atomic_path
from mgi.bundle import layout
from mgi.bundle.card import model_card
from mgi.bundle.licence import data_licence, licence_text
from mgi.provenance import config_hash, package_versions
from mgi.train.saved import read_checkpoint, run_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFiles:
    """One trained model of a run and the expression files of its (fold's) training patients."""

    name: str  # "holdout" or "fold<k>"
    model: Path  # model.pt
    genes: Path | None = None  # genes.tsv (runs that read genes)
    zscore: Path | None = None  # zscore.parquet


def _plain(value: Any) -> Any:
    """JSON round trip: what ``torch.load(weights_only=True)`` accepts, and nothing else."""
    return json.loads(json.dumps(value, default=str))


def _clean_model(path: Path) -> tuple[bytes, dict[str, Any]]:
    """``model.pt`` re-saved with tensors and plain values only, and its saved dict."""
    saved = read_checkpoint(path)
    keep = ("n_genes", "img_size", "model_config", "no_genes_token", "run", "epoch", "cases")
    clean = {"state_dict": saved["state_dict"], "provenance": _plain(saved["provenance"])}
    clean |= {k: _plain(saved[k]) for k in keep if k in saved}
    buf = io.BytesIO()
    torch.save(clean, buf)
    return buf.getvalue(), saved


def preprocessing(store_meta: dict[str, Any]) -> dict[str, Any]:
    """The image preprocessing of the slice store the models were trained on."""
    opts = store_meta.get("options", {})
    return {
        "size": int(opts["size"]),
        "clip_percentiles": [float(x) for x in opts["clip_percentiles"]],
        "intensity": "per volume: clip at clip_percentiles of the nonzero (brain) voxels, scale"
        " to [0, 1], background 0; stored as float16",
        "resize": "each slice to size x size (bilinear, antialiased when shrinking; masks nearest)",
        "orientation": layout.ORIENTATION,
        "slices_trained": opts.get("slices", "all"),
        "margin": int(opts.get("margin", 0)),
        "slices_predicted": "all",
        "input_format": opts.get("format"),
    }


def export_bundle(
    out: str | Path,
    *,
    run: str,
    models: Sequence[ModelFiles],
    store_meta: str | Path,
    config: dict[str, Any],
    summary: str | Path | None = None,
) -> Path:
    """Write the bundle of ``run`` to ``out`` (atomically). ``store_meta``: the slice store's
    ``store.json``; ``config``: the run's effective config; ``summary``: its evaluation
    ``summary.json`` (the card's Table 1 row)."""
    if not models:
        raise ValueError(f"run {run}: no models to export")
    store_meta = Path(store_meta)
    if not store_meta.is_file():
        raise FileNotFoundError(f"{store_meta}: slice store metadata missing")
    prep = preprocessing(json.loads(store_meta.read_text()))
    metrics = None
    if summary is not None:
        metrics = json.loads(Path(summary).read_text())["metrics"]
    entries: dict[str, bytes] = {}
    infos, runs = [], []
    for m in models:
        blob, saved = _clean_model(Path(m.model))
        r = run_of(saved)
        if runs and r != runs[0][1]:
            raise ValueError(f"{m.model}: run {r.name} differs from the first model's")
        runs.append((saved, r))
        where = layout.model_dir(m.name)
        entries[f"{where}/model.pt"] = blob
        entries[f"{where}/config.json"] = json.dumps(
            _plain(saved["provenance"]["config"]), indent=1
        ).encode()
        info = {
            "name": m.name,
            "path": f"{where}/model.pt",
            "config": f"{where}/config.json",
            "n_genes": int(saved["n_genes"]),
            "img_size": int(saved["img_size"]),
            "epoch": saved.get("epoch"),
            "n_train_patients": len(saved.get("cases", {}).get("train", [])),
            "config_hash": saved["provenance"].get("config_hash"),
        }
        if r.uses_genes:
            if m.genes is None or m.zscore is None:
                raise ValueError(f"run {run} ({m.name}) reads genes: genes.tsv and zscore needed")
            entries[f"{where}/genes.tsv"] = Path(m.genes).read_bytes()
            entries[f"{where}/zscore.parquet"] = Path(m.zscore).read_bytes()
            info |= {"genes": f"{where}/genes.tsv", "zscore": f"{where}/zscore.parquet"}
        if int(saved["img_size"]) != prep["size"]:
            raise ValueError(f"{m.model}: trained at {saved['img_size']}, store is {prep['size']}")
        infos.append(info)
    first, r = runs[0]
    no_token = bool(first.get("no_genes_token", False))
    licence = data_licence(config)
    threshold = float(config.get("evaluate", {}).get("threshold", 0.5))
    meta = _metadata(run, r, no_token, infos, prep, threshold, licence, config, first)
    entries[layout.METADATA] = json.dumps(meta, indent=1).encode()
    entries[layout.INFERENCE] = json.dumps(_inference(meta), indent=1).encode()
    entries[layout.CARD] = model_card(meta, metrics).encode()
    entries[layout.LICENSE] = licence_text(licence).encode()
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for name, data in entries.items():
            kind = zipfile.ZIP_STORED if name.endswith(".pt") else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=kind)
    log.info("bundle of %s (%d model%s) -> %s", run, len(infos), "s"[: len(infos) > 1], out)
    return Path(out)


def _metadata(run, r, no_token, infos, prep, threshold, licence, config, saved) -> dict[str, Any]:
    versions = package_versions()
    ensemble = len(infos) > 1
    needs_genes = r.uses_genes and not no_token
    expression = config.get("expression", {})
    size = prep["size"]
    return {
        "format": layout.FORMAT,
        "name": f"mgi-pipeline {run}",
        "version": "1.0",
        "task": "tumour segmentation on FLAIR MRI (2-D axial slices; low-grade glioma)",
        "description": f"run {run} of mgi-pipeline: {'an ensemble of ' + str(len(infos)) + ' cross-validation fold models' if ensemble else 'the single holdout model'}",  # noqa: E501
        "authors": "mgi-pipeline",
        "license": licence["name"],
        "data_license": licence,
        "intended_use": "research only; not a medical device; not for diagnosis or treatment",
        "monai_version": versions.get("monai"),
        "pytorch_version": versions.get("torch"),
        "numpy_version": versions.get("numpy"),
        "optional_packages_version": {k: v for k, v in versions.items() if v},
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": "MR FLAIR",
                    "num_channels": 1,
                    "spatial_shape": [size, size],
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": False,
                    "channel_def": {"0": "FLAIR"},
                },
                "genes": {
                    "type": "vector",
                    "format": f"z-scored log2({expression.get('measure', 'tpm_unstranded')} + 1)",
                    "num_channels": infos[0]["n_genes"] if r.uses_genes else 0,
                    "required": needs_genes,
                    "used": r.uses_genes,
                },
            },
            "outputs": {
                "pred": {
                    "type": "image",
                    "format": "segmentation",
                    "num_channels": 1,
                    "spatial_shape": [size, size],
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "channel_def": {"0": "tumour probability"},
                }
            },
        },
        "mgi": {
            "run": run,
            "method": r.method,
            "gene_encoder": r.gene_encoder,
            "uses_genes": r.uses_genes,
            "no_genes_token": no_token,
            "needs_genes": needs_genes,
            "ensemble": "mean of the fold models' sigmoid probabilities" if ensemble else None,
            "models": infos,
            "threshold": threshold,
            "preprocessing": prep,
            "expression": {
                "measure": expression.get("measure", "tpm_unstranded"),
                "transform": "log2(x + 1), then z-score with each model's training mean/std",
                "matching": "Ensembl gene id without its version suffix",
                "missing": "a model gene absent from the file takes its training mean (z = 0)",
            },
            "provenance": {
                "config_hash": config_hash(config),
                "model_config_hashes": [i["config_hash"] for i in infos],
                "git_commit": saved["provenance"].get("git_commit"),
                "created": saved["provenance"].get("created"),
                "packages": saved["provenance"].get("packages"),
                "exported_with": versions.get("mgi-pipeline"),
            },
            "cohort": {
                "source": config.get("source"),
                "imaging_source": config.get("imaging", {}).get("source"),
                "project": config.get("gdc", {}).get("project")
                if config.get("source") == "gdc"
                else None,  # noqa: E501
                "split": config.get("split", {}).get("scheme"),
                "n_train_patients": [i["n_train_patients"] for i in infos],
            },
        },
    }


def _inference(meta: dict[str, Any]) -> dict[str, Any]:
    m = meta["mgi"]
    return {
        "command": "mgi predict --bundle BUNDLE.zip --sheet SHEET.tsv --out DIR",
        "sheet_columns": {
            "case_id": "any id (letters, digits, . _ -)",
            "flair": "NIfTI volume, or a kaggle_3m-style folder of <name>_<n>.tif slices",
            "expression": "GDC STAR-Counts file or a gene_id,tpm table"
            + (
                " (required)"
                if m["needs_genes"]
                else " (optional)"
                if m["uses_genes"]
                else " (unused)"
            ),  # noqa: E501
            "mask": "optional ground truth: adds dice and hd95",
        },
        "steps": [
            m["preprocessing"]["orientation"],
            m["preprocessing"]["intensity"],
            m["preprocessing"]["resize"],
            "every model predicts every slice; "
            + (m["ensemble"] or "one model")
            + f"; tumour where probability >= {m['threshold']}",
            "the mask goes back to the FLAIR's own grid and affine (nearest)",
        ],
    }


def run_files(results: str | Path, run: str) -> dict[str, Any]:
    """What :func:`export_bundle` reads for ``run`` in a finished ``results`` folder: the fold
    models (``results/cv/fold<k>/...``) or the holdout model (``results/finetune/...``), the
    store's metadata, the effective config (``results/config.yaml``) and the summary."""
    import re

    import yaml

    results = Path(results)
    folds = sorted(
        (int(m.group(1)), p.parent)
        for p in results.glob("cv/fold*/finetune")
        if (m := re.fullmatch(r"fold(\d+)", p.parent.name))
    )
    bases = [(f"fold{k}", base) for k, base in folds] or [("holdout", results)]
    models = [
        ModelFiles(
            name,
            base / "finetune" / run / "model.pt",
            base / "expression" / "genes.tsv",
            base / "expression" / "zscore.parquet",
        )
        for name, base in bases
    ]
    missing = [str(m.model) for m in models if not m.model.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: run {run} is not trained (model missing)")
    config_path = results / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: the run's effective config is missing")
    summary = results / "evaluate" / run / "summary.json"
    return {
        "models": models,
        "store_meta": results / "imaging" / "store" / "store.json",
        "config": yaml.safe_load(config_path.read_text()),
        "summary": summary if summary.is_file() else None,
    }
