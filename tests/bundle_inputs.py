"""A tiny fine-tuned run in real formats for the bundle tests: slice store, expression matrix,
split and untrained tiny models saved as fine-tuning saves them (no training: the tests check
that ``mgi predict`` reproduces the pipeline's numbers, not that the model is good)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

TINY_MODEL = {
    "image": {"preset": "tiny", "patch_size": 8, "depth": 1},
    "genes": {"d_model": 8, "layers": 1, "patch_size": 16, "d_state": 4, "heads": 2},
    "fusion": {"gene_tokens": 2, "heads": 2, "depth": 1, "dim": 16, "mlp_dim": 16},
}
CONFIG = {
    "source": "demo",
    "imaging": {"source": "local", "format": "nifti", "sheet": None, "root": None},
    "split": {"scheme": "holdout"},
    "expression": {"measure": "tpm_unstranded"},
    "evaluate": {"threshold": 0.5},
}


def save_tiny(path: Path, name: str, *, n_genes: int, size: int, no_genes: bool = False):
    """An untrained tiny model of run ``name`` saved like :func:`mgi.train.finetune.finetune`."""
    from mgi.train.finetune import Run, build_segmentation_model
    from mgi.train.outputs import save_model

    run = Run.parse(name, "mamba")
    torch.manual_seed(0)
    model = TINY_MODEL if run.uses_genes else {k: TINY_MODEL[k] for k in ("image", "fusion")}
    if run.method not in ("mgi", "image_only"):
        model = {"baselines": {"channels": [4, 8]}}
    net = build_segmentation_model(
        run, n_genes=n_genes, img_size=size, model=model, no_genes_token=no_genes
    )
    if no_genes:
        with torch.no_grad():
            net.no_genes.normal_()
    config = {"stage": "finetune", "run": asdict(run), "model": model}
    save_model(
        path,
        net,
        config,
        0,
        run=name,
        epoch=1,
        cases={"train": [], "val": []},
        n_genes=n_genes,
        img_size=size,
        model_config=model,
        no_genes_token=no_genes,
    )
    return net, run


def make_run(root: Path, demo: Path, *, size: int = 32, n_test: int = 2) -> dict:
    """store/, split.tsv, matrix/genes/zscore/aliquots and store.json under ``root``."""
    from mgi.expression import ExpressionOptions, build_matrix
    from mgi.imaging import SliceOptions, SliceStore, build_store

    store = build_store(
        "nifti", demo / "imaging" / "sheet.tsv", root / "store", SliceOptions(size=size)
    )
    rna = set(pd.read_csv(demo / "gdc" / "files.tsv", sep="\t").case_submitter_id)
    cases = [c for c in SliceStore(store).case_ids if c in rna]  # paired patients
    split = ["train"] * (len(cases) - n_test) + ["test"] * n_test
    pd.DataFrame({"case_id": cases, "split": split}).to_csv(
        root / "split.tsv", sep="\t", index=False
    )
    build_matrix(
        demo / "gdc",
        root / "matrix.parquet",
        options=ExpressionOptions(min_fraction=0.0, top_k_variance=None),
        split=root / "split.tsv",
        genes_out=root / "genes.tsv",
        zscore_out=root / "zscore.parquet",
        aliquots_out=root / "aliquots.tsv",
    )
    n_genes = len(pd.read_csv(root / "genes.tsv", sep="\t"))
    return {
        "root": root,
        "store": store,
        "cases": cases,
        "test": cases[-n_test:],
        "n_genes": n_genes,
        "size": size,
    }


def pipeline_probabilities(run_dir: dict, model_pt: Path, *, with_genes: bool = True):
    """The pipeline's own test-patient probabilities (finetune.predict), rows and float16 prob."""
    from mgi.data import SliceGeneDataset, load_cohort
    from mgi.imaging import SliceStore
    from mgi.train.finetune import predict
    from mgi.train.saved import load_segmenter

    net, run, _ = load_segmenter(model_pt)
    store = SliceStore(run_dir["store"])
    r = run_dir["root"]
    test = load_cohort(store, r / "matrix.parquet", r / "zscore.parquet", r / "split.tsv", "test")
    data = SliceGeneDataset(store.images, store.masks, test)
    return store, test, predict(net, data, run, 64, "fp32", with_genes=with_genes)


def new_patient_sheet(run_dir: dict, demo: Path, out: Path, *, masks=True, expression=True) -> Path:
    """The run's test patients renamed PT001..., as NIfTI + STAR-Counts (+ masks) in ``out``."""
    import shutil

    sheet = pd.read_csv(demo / "imaging" / "sheet.tsv", sep="\t").set_index("case_id")
    aliquots = pd.read_csv(run_dir["root"] / "aliquots.tsv", sep="\t").set_index("case_id")
    rows = []
    for k, case in enumerate(run_dir["test"], start=1):
        pid = f"PT{k:03d}"
        (out / pid).mkdir(parents=True)
        shutil.copy(demo / "imaging" / sheet.loc[case, "flair"], out / pid / "flair.nii.gz")
        shutil.copy(demo / "imaging" / sheet.loc[case, "mask"], out / pid / "truth.nii.gz")
        a = aliquots.loc[case]
        shutil.copy(demo / "gdc" / a.file_id / a.file_name, out / pid / "rna.tsv")
        rows.append(
            {
                "case_id": pid,
                "flair": f"{pid}/flair.nii.gz",
                "expression": f"{pid}/rna.tsv" if expression else "",
                "mask": f"{pid}/truth.nii.gz" if masks else "",
            }
        )
    pd.DataFrame(rows).to_csv(out / "new.tsv", sep="\t", index=False)
    return out / "new.tsv"


def same(a, b) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))
