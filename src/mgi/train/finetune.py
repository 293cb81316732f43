"""Segmentation fine-tuning: MGI, its controls and the baselines, on one split and one budget.

Runs (names are what the workflow and the tables use):

``mgi``            pre-trained ViT + pre-trained gene encoder + fusion decoder
``image_only``     the same pre-trained ViT + decoder, no genes
``mgi_shuffled``   ``mgi`` with gene vectors permuted across patients (a fixed seeded derangement,
                   in training and test alike): the negative control
``mgi-<encoder>``  ``mgi`` with another pre-trained gene encoder (the ablation)
``unet``, ``resunet``, ``deeplabv3plus``, ``attention_unet``  baselines from scratch, no genes

Patients: ``train`` patients of the split train; ``val`` patients (if any) are scored after
every epoch and, with ``select: val_dice``, choose the epoch kept (:mod:`mgi.train.select`);
``test`` patients are only predicted, once, by the kept model.

Loss: MONAI ``DiceCELoss`` with a sigmoid (Dice + BCE on one channel), Dice over the batch so
tumour-free slices do not divide by zero. Every run sees the same augmentation of its training
slices (``spec.augment``, :mod:`mgi.train.augment`); the test slices are never augmented.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgi.data import Cohort, SliceGeneDataset, has_split, load_cohort, permute_patients
from mgi.provenance import config_hash
from mgi.train import checkpoint
from mgi.train.augment import augmented
from mgi.train.loop import Task, autocast, collate, fit
from mgi.train.outputs import fingerprint, save_run
from mgi.train.select import BestEpoch, chosen_epoch
from mgi.train.specs import FinetuneSpec, Loop, Optim

log = logging.getLogger(__name__)

BASELINES = ("unet", "resunet", "deeplabv3plus", "attention_unet")
TABLE1 = (*BASELINES, "image_only", "mgi", "mgi_shuffled")


@dataclass(frozen=True)
class Run:
    """One fine-tuning run, parsed from its name."""

    name: str
    method: str  # the name given to mgi.models.build_segmentation_model
    gene_encoder: str | None  # whose pre-training it starts from (None: from scratch)
    uses_genes: bool
    shuffle_genes: bool = False

    @classmethod
    def parse(cls, name: str, default_encoder: str) -> Run:
        """``mgi``, ``image_only``, ``mgi_shuffled``, ``mgi-<encoder>`` or a baseline name."""
        if name in BASELINES:
            return cls(name, name, None, False)
        if name == "image_only":
            return cls(name, "image_only", default_encoder, False)
        if name in ("mgi", "mgi_shuffled"):
            return cls(name, "mgi", default_encoder, True, name == "mgi_shuffled")
        if name.startswith("mgi-") and len(name) > 4:
            return cls(name, "mgi", name[4:], True)
        raise ValueError(f"unknown fine-tuning run {name!r}; known: {TABLE1} and mgi-<encoder>")


def build_segmentation_model(
    run: Run, *, n_genes: int, img_size: int, model: dict[str, Any], no_genes_token: bool = False
):
    """``mgi.models.build_segmentation_model`` for ``run`` (``model``: config ``model:``;
    ``no_genes_token``: a gene run trained with ``finetune.gene_dropout``)."""
    from mgi.models import build_segmentation_model as build

    kwargs = dict(model)
    if run.gene_encoder is not None:
        kwargs["gene_encoder"] = run.gene_encoder
    if no_genes_token:
        kwargs["no_genes_token"] = True
    return build(run.method, img_size=img_size, n_genes=n_genes, **kwargs)


def has_no_genes_token(run: Run, spec: FinetuneSpec) -> bool:
    """Whether ``run`` trains a "no genes" token (a gene run with ``gene_dropout`` > 0)."""
    return run.uses_genes and spec.gene_dropout > 0


def segmentation_task(dataset: SliceGeneDataset, run: Run, spec: FinetuneSpec, seed: int) -> Task:
    """Dice + BCE; each epoch all tumour slices plus ``empty_ratio`` times as many tumour-free
    ones drawn afresh, augmented by ``spec.augment`` (order, draw and augmentation from
    ``(seed, epoch)`` only)."""
    from monai.losses import DiceCELoss

    criterion = DiceCELoss(sigmoid=True, batch=True, lambda_ce=spec.ce_weight)
    has_tumour = dataset.has_tumour()
    tumour, empty = np.flatnonzero(has_tumour), np.flatnonzero(~has_tumour)
    n_empty = len(empty) if spec.empty_ratio < 0 else round(spec.empty_ratio * len(tumour))
    n_empty = min(n_empty, len(empty))

    def batches(epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([seed, epoch])
        chosen = np.concatenate([tumour, rng.choice(empty, size=n_empty, replace=False)])
        order = rng.permutation(chosen).tolist()
        out = [order[i : i + spec.batch_size] for i in range(0, len(order), spec.batch_size)]
        if len(out) > 1 and len(out[-1]) == 1:  # BatchNorm (DeepLabV3+'s ASPP pooling, the
            last = out.pop()  # U-Nets) cannot train on one slice: it joins the batch before
            out[-1] += last
        return out

    def loss(model, batch) -> torch.Tensor:
        genes = drop = None
        if run.uses_genes:  # noise: the model must read gene modules, not memorise patients
            genes = batch["genes"] + spec.gene_noise * torch.randn_like(batch["genes"])
            if spec.gene_dropout > 0:  # items trained as a patient without RNA-seq
                drop = torch.rand(len(genes), device=genes.device) < spec.gene_dropout
        extra = (drop,) if drop is not None else ()  # only an mgi model takes ``drop``
        logits = model(batch["image"], genes, *extra)  # B x 1 x H x W
        return criterion(logits.float(), batch["mask"])

    # The ViT keeps the base lr; decoder, gene pooling and gene encoder (which must pick up
    # what images never showed it in pre-training) train at head_lr_mult x lr.
    pretrained = ("image_encoder",) if run.gene_encoder is not None else ()
    data = augmented(dataset, spec.augment, seed, size=int(dataset.images.shape[-1]))
    return Task(
        data,
        batches,
        loss,
        desc=f"finetune {run.name}",
        head_lr_mult=spec.head_lr_mult if pretrained else 1.0,
        pretrained=pretrained,
        start_epoch=getattr(data, "set_epoch", None),
    )


@torch.no_grad()
def predict(
    model,
    dataset: SliceGeneDataset,
    run: Run,
    batch_size: int,
    precision: str = "bf16",
    *,
    with_genes: bool = True,
) -> np.ndarray:
    """Sigmoid probabilities (N, H, W) float16 for every item of ``dataset``, in order
    (``with_genes=False``: a gene run predicts through its no-genes token)."""
    model.eval()
    device = next(model.parameters()).device
    out = np.empty(tuple(dataset.images.shape), dtype=np.float16)  # filled in place, no concat
    for start in range(0, len(dataset), batch_size):
        stop = min(start + batch_size, len(dataset))
        batch = collate(dataset, range(start, stop), device)
        with autocast(device, precision):
            genes = batch["genes"] if run.uses_genes and with_genes else None
            logits = model(batch["image"], genes)
        out[start:stop] = torch.sigmoid(logits.float())[:, 0].cpu().numpy()
    return out


def _cohorts(store, matrix, zscore, split, run: Run, spec: FinetuneSpec):
    """(train, val, test) cohorts of ``split``; val is None when the split has no val patients."""
    train = load_cohort(store, matrix, zscore, split, "train")
    val = load_cohort(store, matrix, zscore, split, "val") if has_split(split, "val") else None
    test = load_cohort(store, matrix, zscore, split, "test")
    if run.shuffle_genes:
        train = permute_patients(train, spec.shuffle_seed)
        test = permute_patients(test, spec.shuffle_seed + 1)
        if val is not None and len(val.case_ids) > 1:
            val = permute_patients(val, spec.shuffle_seed + 2)
        log.info("%s: gene vectors deranged across patients (seed %d)", run.name, spec.shuffle_seed)
    return train, val, test


def _selector(
    store, val: Cohort | None, run: Run, spec: FinetuneSpec, ckpt_dir, key: str, precision: str
):
    """The validation scorer (:class:`BestEpoch`), or None without validation patients."""
    if val is None:
        if spec.select == "val_dice":
            raise ValueError("finetune.select val_dice needs validation patients in the split")
        return None
    dataset = SliceGeneDataset(store.images, store.masks, val)
    masks = np.asarray(store.masks[val.rows])
    return BestEpoch(
        lambda m: predict(m, dataset, run, spec.predict_batch, precision).astype(np.float32),
        masks,
        val.patient,
        ckpt_dir=ckpt_dir,
        key=key,
    )


def finetune(
    store: str | Path,
    matrix: str | Path,
    zscore: str | Path,
    split: str | Path,
    *,
    run: Run,
    pretrained: str | Path | None,
    out_dir: str | Path,
    ckpt_dir: str | Path,
    spec: FinetuneSpec,
    opt: Optim,
    model: dict[str, Any],
    resume: bool = True,
    loop: Loop | None = None,
) -> torch.nn.Module:
    """Train ``run``; write ``out_dir``/{model.pt, history.csv, predictions.npz}.

    With validation patients in ``split`` every epoch records ``val_dice`` (mean per-patient 3-D
    Dice); ``spec.select == "val_dice"`` keeps the best such epoch's weights, else the last.
    ``loop``: workers, checkpoint interval, TensorBoard (:class:`mgi.train.specs.Loop`).

    ``predictions.npz``: ``rows`` int64 (store rows of every test-patient slice, store order)
    and ``prob`` float16 (n, H, W) sigmoid probabilities at store resolution.
    """
    from mgi.imaging import SliceStore

    if not resume:
        checkpoint.clear(ckpt_dir)
    store = SliceStore(store)
    train, val, test = _cohorts(store, matrix, zscore, split, run, spec)
    img_size = int(store.images.shape[-1])
    torch.manual_seed(opt.seed)
    no_genes = has_no_genes_token(run, spec)
    net = build_segmentation_model(
        run, n_genes=train.n_genes, img_size=img_size, model=model, no_genes_token=no_genes
    )
    inputs = [Path(store.path) / "images.npy", matrix, zscore, split]
    if run.gene_encoder is not None:
        if pretrained is None:
            raise ValueError(f"run {run.name} needs the pre-trained model of {run.gene_encoder}")
        net.load_pretrained(torch.load(pretrained, map_location="cpu")["state_dict"])
        inputs.append(pretrained)
    config = {
        "stage": "finetune",
        "run": asdict(run),
        "spec": asdict(spec),
        "model": model,
        "inputs": fingerprint(*inputs),
    }
    dataset = SliceGeneDataset(store.images, store.masks, train)
    task = segmentation_task(dataset, run, spec, opt.seed)
    key = config_hash({**config, "optim": asdict(opt)})  # fit's checkpoint key
    task.metrics = _selector(store, val, run, spec, ckpt_dir, key, opt.precision)
    history = fit(net, task, opt, ckpt_dir=ckpt_dir, config=config, loop=loop)
    epoch = len(history)
    if spec.select == "val_dice":  # validation patients choose; test patients never do
        task.metrics.restore(net)
        epoch = chosen_epoch(history["val_dice"])
        log.info("%s: kept epoch %d (val_dice %.4f)", run.name, epoch, task.metrics.best)
    test_data = SliceGeneDataset(store.images, store.masks, test)
    prob = predict(net, test_data, run, spec.predict_batch, opt.precision)

    def write_predictions(path: Path) -> None:
        with open(path, "wb") as fh:  # a handle: savez would append ".npz" to the temp name
            np.savez_compressed(fh, rows=test.rows.astype(np.int64), prob=prob)

    save_run(
        out_dir,
        net,
        config=config,
        opt=opt,
        ckpt_dir=ckpt_dir,
        tables={"history.csv": history},
        files={"predictions.npz": write_predictions},
        run=run.name,
        epoch=epoch,  # the epoch whose weights were kept
        cases={  # who trained it, who chose its epoch (provenance; test: predicted only)
            "train": list(train.case_ids),
            "val": list(val.case_ids) if val is not None else [],
        },
        n_genes=train.n_genes,
        img_size=img_size,
        model_config=model,
        no_genes_token=no_genes,
    )
    if task.metrics is not None:  # once the outputs exist, like the checkpoints
        task.metrics.clear()
    return net
