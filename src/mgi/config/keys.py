"""What each workflow step reads of the config: its cache key.

Snakemake reruns a job when its ``params`` change, so each rule's ``params`` hold exactly the
values that change its outputs, and the functions here say which those are. Scheduler keys
(``threads``, ``mem_mb``, ``runtime``), the device, download concurrency and retry settings,
``predict_batch`` (slices per forward pass at prediction: the same probabilities) and figure
keys are read by the scripts from ``snakemake.config`` and change no result; a key only one
method reads is in that method's key only. ``tests/test_cache_keys.py`` holds the expected reruns
of every schema key.
"""

from __future__ import annotations

from typing import Any

# Runtime knobs: never part of a cache key (see the module docstring). ``model.genes.scan``
# (which implementation runs the Mamba scan: the same math) is one too, read by the training
# scripts (mgi.models.scan.set_mode).
SCHEDULER = (
    "threads",
    "mem_mb",
    "runtime",
    "device",
    "workers",  # DataLoader processes: the same batches (mgi.train.loader)
    "checkpoint_minutes",
    "tensorboard",
)

# The gene-encoder options each encoder reads (mgi.models.registry builds from these).
GENE_ENCODER_OPTIONS: dict[str, tuple[str, ...]] = {
    "mamba": ("d_model", "layers", "patch_size", "d_state", "d_conv", "expand", "bidirectional"),
    "transformer": ("d_model", "layers", "patch_size", "heads"),
    "group_attention": ("d_model", "layers", "patch_size", "heads", "group_size"),
    "mlp": ("d_model", "layers", "hidden", "tokens"),
}
BASELINE_OPTIONS = {
    "unet": "channels",
    "resunet": "channels",
    "attention_unet": "channels",
    "deeplabv3plus": "encoder",
}
# The budget, optimiser and precision settings both training stages read (precision changes
# the numbers on a GPU, so it reruns training, on any device).
OPTIM = (
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_epochs",
    "min_lr_ratio",
    "grad_clip",
    "precision",
)
# Fine-tuning settings every run reads; the others depend on the run (finetune()).
FINETUNE_COMMON = (*OPTIM, "seed", "empty_ratio", "ce_weight", "select", "augment")
PRETRAIN_KEYS = (*OPTIM, "seed", "loss", "tumour_only")


def _pick(section: dict[str, Any], names) -> dict[str, Any]:
    return {k: section[k] for k in names}


def gdc(config: dict[str, Any]) -> dict[str, Any]:
    """What is downloaded: the API and the project (not concurrency, retries or the token)."""
    return _pick(config["gdc"], ("api_url", "project"))


def split(config: dict[str, Any]) -> dict[str, Any]:
    """How patients are split: ``holdout`` reads ``test_fraction``, ``cv`` the number of folds."""
    sp = config["split"]
    out = _pick(sp, ("scheme", "val_fraction", "seed", "stratify"))
    out.update(_pick(sp, ("test_fraction",) if sp["scheme"] == "holdout" else ("folds",)))
    return out


def expression(config: dict[str, Any]) -> dict[str, Any]:
    """Everything of ``expression:`` but ``workers`` (the rule's threads)."""
    return {k: v for k, v in config["expression"].items() if k != "workers"}


def imaging(config: dict[str, Any]) -> dict[str, Any]:
    """How volumes become slices. The input folder or sheet is the rule's input (fetched or
    unpacked with ``imaging.source`` kaggle / brats_tcga_lgg); ``patterns`` count only where
    NIfTI files are found by pattern (source local, a root folder, no sheet), ``margin`` only
    with ``slices: tumour``; the QC montage's ``qc_slices`` is the QC rule's own."""
    im = config["imaging"]
    out = _pick(im, ("format", "size", "slices", "clip_percentiles", "empty_masks"))
    if im["source"] == "local" and im["format"] == "nifti" and im["root"] and not im["sheet"]:
        out["patterns"] = im["patterns"]
    if im["slices"] == "tumour":
        out["margin"] = im["margin"]
    return out


def imaging_fetch(config: dict[str, Any]) -> dict[str, Any]:
    """What is fetched from Kaggle: the dataset and its version (not the tries, nor the
    expected patient count, which only checks what arrived)."""
    return _pick(config["imaging"]["kaggle"], ("dataset", "version"))


def evaluate(config: dict[str, Any]) -> dict[str, Any]:
    """What scores a run: threshold and the bootstrap (not which runs get figures or NIfTI)."""
    return _pick(config["evaluate"], ("threshold", "bootstrap", "confidence", "seed"))


def bootstrap(config: dict[str, Any]) -> dict[str, Any]:
    """The bootstrap of the tables' paired differences."""
    e = config["evaluate"]
    return {"n_resamples": e["bootstrap"], "confidence": e["confidence"], "seed": e["seed"]}


def gene_model(config: dict[str, Any], encoder: str) -> dict[str, Any]:
    """The ``model.genes`` options ``encoder`` reads: Mamba's ``block`` (with the ``heads`` a
    mamba2 block splits its width into) only where it is not the default mamba1, so runs made
    before the key existed keep their cache. ``scan`` is a runtime knob (the same math)."""
    genes = config["model"]["genes"]
    out = _pick(genes, GENE_ENCODER_OPTIONS[encoder])
    if encoder == "mamba" and genes["block"] != "mamba1":
        out.update(block=genes["block"], heads=genes["heads"])
    return out


def seeded(section: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """``section`` with ``seed``: the given one (a job's), else the first of its ``seeds``. A
    job's key holds the one seed it trains with, where ``seed`` stood before ``seeds`` existed,
    so the first seed's jobs keep their cache."""
    return {**section, "seed": section["seeds"][0] if seed is None else int(seed)}


def pretrain(config: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    """Pre-training settings of one seed (default: the first of ``pretrain.seeds``); the
    encoder is the job's wildcard, and which encoders or seeds run is not in the key."""
    return _pick(seeded(config["pretrain"], seed), PRETRAIN_KEYS)


def pretrain_model(config: dict[str, Any], encoder: str) -> dict[str, Any]:
    """The ViT, the encoder's own gene options and the joint embedding size."""
    m = config["model"]
    return {"image": m["image"], "genes": gene_model(config, encoder), "embed_dim": m["embed_dim"]}


def run_encoder(config: dict[str, Any], run: str) -> str | None:
    """The pre-trained gene encoder a fine-tuning run starts from (None: a baseline)."""
    if run in BASELINE_OPTIONS:
        return None
    if run.startswith("mgi-"):
        return run[4:]
    return config["finetune"]["gene_encoder"]


def finetune(config: dict[str, Any], run: str, seed: int | None = None) -> dict[str, Any]:
    """The fine-tuning settings ``run`` reads with fine-tuning seed ``seed`` (default: the first
    of ``finetune.seeds``): the shared budget, plus ``head_lr_mult`` and ``gene_encoder`` for
    runs that start from pre-training, ``gene_noise`` for runs that read genes,
    ``shuffle_seed`` for the negative control. A baseline's ``lr`` is ``baseline_lr`` where set."""
    section = seeded(config["finetune"], seed)
    out = _pick(section, FINETUNE_COMMON)
    encoder = run_encoder(config, run)
    if encoder is not None:
        out.update(head_lr_mult=section["head_lr_mult"], gene_encoder=encoder)
    elif section.get("baseline_lr") is not None:  # null: ``lr``, and the baselines keep their cache
        out["lr"] = section["baseline_lr"]
    if run.startswith("mgi"):  # mgi, mgi_shuffled, mgi-<encoder>
        out["gene_noise"] = section["gene_noise"]
        if section["gene_dropout"] > 0:  # only when on: runs made before the key keep their cache
            out["gene_dropout"] = section["gene_dropout"]
    if run == "mgi_shuffled":
        out["shuffle_seed"] = section["shuffle_seed"]
    return out


def finetune_model(config: dict[str, Any], run: str) -> dict[str, Any]:
    """The ``model:`` options ``run`` builds from: one baseline option for a baseline; the ViT,
    the fusion decoder and its gene encoder's options for mgi runs (image_only: the decoder's
    gene width only, and no gene-token pooling)."""
    m = config["model"]
    if run in BASELINE_OPTIONS:
        name = BASELINE_OPTIONS[run]
        return {"baselines": {name: m["baselines"][name]}}
    if run == "image_only":
        fusion = {k: v for k, v in m["fusion"].items() if k != "gene_tokens"}
        return {"image": m["image"], "fusion": fusion, "genes": {"d_model": m["genes"]["d_model"]}}
    encoder = run_encoder(config, run)
    return {"image": m["image"], "fusion": m["fusion"], "genes": gene_model(config, encoder)}


def bundle(config: dict[str, Any]) -> dict[str, Any]:
    """What a bundle records besides its inputs: the threshold, the expression measure, and
    where the training data came from (the data licence, the model card's cohort)."""
    im = config["imaging"]
    return {
        "source": config["source"],
        "imaging": _pick(im, ("source", "format", "sheet", "root")),
        "expression": {"measure": config["expression"]["measure"]},
        "evaluate": {"threshold": config["evaluate"]["threshold"]},
        "split": {"scheme": config["split"]["scheme"]},
        "gdc": {"project": config["gdc"]["project"]},
    }


def external_sheet(path: str) -> str:
    """The SHA-256 of an external cohort's sheet: its content is part of the cache key."""
    import hashlib
    from pathlib import Path

    sheet = Path(path)
    if not sheet.is_file():
        raise FileNotFoundError(f"{sheet}: external sheet not found (config external)")
    return hashlib.sha256(sheet.read_bytes()).hexdigest()


def probe_labels(config: dict[str, Any]) -> dict[str, Any]:
    """Which labels Table 2 reads and when one is scorable."""
    return _pick(config["probe"], ("labels", "min_per_class", "max_missing"))


def probe_embed(config: dict[str, Any]) -> dict[str, Any]:
    """How slices become a patient's embedding (the models are the rule's inputs); the random
    ViT's options and seed when ``image_pretrained_random`` is probed."""
    out = _pick(config["probe"], ("brain_share", "pool"))
    if "image_pretrained_random" in config["probe"]["features"]:
        out.update(image=config["model"]["image"], seed=config["pretrain"]["seeds"][0])
    return out


def probe_fit(config: dict[str, Any]) -> dict[str, Any]:
    """The probe's model selection (the inner CV and its grid) and seed."""
    return _pick(config["probe"], ("inner_folds", "c_grid", "seed"))
