"""Image-gene contrastive pre-training (paper Sec. 2, eq. 1): one run per gene encoder.

Pairs are (FLAIR slice, its patient's z-scored expression vector) from the *training* patients;
every batch holds distinct patients. After training, the retrieval accuracy on the test
patients is written beside the model (:mod:`mgi.train.retrieval`); with ``tumour_only`` it
trains on the training patients' tumour slices (their masks) but retrieves with the test
patients' middle brain slices (:func:`mgi.data.brain_slices`: no test mask is read).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from mgi.data import (
    DistinctPatientBatchSampler,
    SliceGeneDataset,
    brain_slices,
    load_cohort,
    tumour_slices,
)
from mgi.train import checkpoint
from mgi.train.loop import Task, fit
from mgi.train.outputs import fingerprint, save_run
from mgi.train.specs import Loop, Optim, PretrainSpec

log = logging.getLogger(__name__)


def build_pretrain_model(
    gene_encoder: str, *, n_genes: int, img_size: int, model: dict[str, Any]
) -> torch.nn.Module:
    """The :class:`mgi.models.MGIPretrain` of one gene encoder (``model``: config ``model:``)."""
    from mgi.models import build_pretrain_model as build

    return build(gene_encoder=gene_encoder, n_genes=n_genes, img_size=img_size, **model)


def logit_scale(model: torch.nn.Module) -> torch.nn.Parameter:
    """The model's learnt log inverse temperature (a scalar parameter)."""
    return model.logit_scale


def clamp_logit_scale(model: torch.nn.Module) -> None:
    """Keep ``exp(logit_scale)`` within [1, 100] (CLIP)."""
    from mgi.losses import clamp_logit_scale_

    clamp_logit_scale_(logit_scale(model))


def contrastive_task(dataset: SliceGeneDataset, spec: PretrainSpec, seed: int) -> Task:
    """The :class:`Task` of contrastive pre-training on ``dataset``."""
    from mgi.losses import build_loss

    criterion = build_loss(spec.loss)
    sampler = DistinctPatientBatchSampler(dataset.patient.numpy(), spec.batch_size, seed=seed)

    def batches(epoch: int) -> list[list[int]]:
        sampler.set_epoch(epoch)
        return sampler.batches()

    def loss(model, batch) -> torch.Tensor:
        image_emb, gene_emb = model(batch["image"], batch["genes"])  # (B, E) each
        # logits and loss in float32 with autocast off (mgi.losses), inside the step's autocast
        return criterion(image_emb, gene_emb, logit_scale(model))

    return Task(
        dataset,
        batches,
        loss,
        after_step=clamp_logit_scale,
        desc="pretrain",
        metrics=lambda m: {"logit_scale": float(logit_scale(m).detach().exp())},
    )


def pretrain(
    store: str | Path,
    matrix: str | Path,
    zscore: str | Path,
    split: str | Path,
    *,
    out_dir: str | Path,
    ckpt_dir: str | Path,
    spec: PretrainSpec,
    opt: Optim,
    model: dict[str, Any],
    resume: bool = True,
    loop: Loop | None = None,
) -> torch.nn.Module:
    """Train, then write ``out_dir``/{model.pt, metrics.csv, retrieval.csv}; returns the model.

    Resumes from ``ckpt_dir`` when it holds a checkpoint of this exact run (``resume=False``:
    clears it first); removes the checkpoints once the outputs are written.
    ``loop``: workers, checkpoint interval, TensorBoard (:class:`mgi.train.specs.Loop`).
    """
    from mgi.imaging import SliceStore
    from mgi.train.retrieval import retrieval

    if not resume:
        checkpoint.clear(ckpt_dir)
    store = SliceStore(store)
    train = load_cohort(store, matrix, zscore, split, "train")
    test = load_cohort(store, matrix, zscore, split, "test")
    if spec.tumour_only:  # slices without tumour carry nothing of the patient's genotype
        train = tumour_slices(train, store.index)  # training masks: allowed
        test = brain_slices(test, store.images)  # test masks choose nothing
    img_size = int(store.images.shape[-1])
    torch.manual_seed(opt.seed)
    net = build_pretrain_model(
        spec.gene_encoder, n_genes=train.n_genes, img_size=img_size, model=model
    )
    dataset = SliceGeneDataset(store.images, store.masks, train)
    config = {
        "stage": "pretrain",
        "spec": asdict(spec),
        "model": model,
        "inputs": fingerprint(*(Path(store.path) / "images.npy", matrix, zscore, split)),
    }
    task = contrastive_task(dataset, spec, opt.seed)
    history = fit(net, task, opt, ckpt_dir=ckpt_dir, config=config, loop=loop)
    test_data = SliceGeneDataset(store.images, store.masks, test)
    scores = retrieval(net, test_data, spec.batch_size, opt.precision)
    save_run(
        out_dir,
        net,
        config=config,
        opt=opt,
        ckpt_dir=ckpt_dir,
        tables={  # metrics.csv columns: epoch, loss, lr, seconds, ...
            "metrics.csv": history.rename(columns={"train_loss": "loss"}),
            "retrieval.csv": scores,
        },
        gene_encoder=spec.gene_encoder,
        cases={"train": list(train.case_ids)},  # the patients it learned from
        n_genes=train.n_genes,
        img_size=img_size,
        gene_ids=train.gene_ids,
        model_config=model,
    )
    return net
