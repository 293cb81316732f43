# Paths (cv: per fold, under FOLD_DIR), run lists and input functions of the training stages
# (pretrain.smk, finetune.smk, and evaluate.smk/report.smk, which read their outputs).
# Included from pretrain.smk.
import re

PRETRAIN_DIR = f"{FOLD_DIR}/pretrain"  # {encoder}/model.pt, metrics.csv, retrieval.csv
FINETUNE_DIR = f"{FOLD_DIR}/finetune"  # {run}/model.pt, history.csv, predictions.npz
# per-gene statistics of the (fold's) training patients
TRAIN_ZSCORE = f"{FOLD_DIR}/expression/zscore.parquet"
BASELINES = ["unet", "resunet", "deeplabv3plus", "attention_unet"]
# Inputs every training rule reads.
TRAIN_INPUTS = {
    "images": f"{STORE}/images.npy",
    "masks": f"{STORE}/masks.npy",
    "index": f"{STORE}/index.parquet",
    "matrix": MATRIX,
    "zscore": TRAIN_ZSCORE,
    "split": SPLIT,
}

if config["finetune"]["gene_encoder"] not in config["pretrain"]["gene_encoders"]:
    raise ValueError(
        "config: finetune.gene_encoder must be one of pretrain.gene_encoders"
    )


def pretrain_encoders():
    """The gene encoders pre-trained (config pretrain.gene_encoders)."""
    return list(config["pretrain"]["gene_encoders"])


def table1_runs():
    """The seven Table-1 methods, baselines first."""
    return BASELINES + ["image_only", "mgi", "mgi_shuffled"]


def ablation_runs():
    """Gene encoder -> its run, in pretrain.gene_encoders order (the default encoder's is `mgi`)."""
    default = config["finetune"]["gene_encoder"]
    return {
        enc: "mgi" if enc == default else f"mgi-{enc}" for enc in pretrain_encoders()
    }


def finetune_runs():
    """Every fine-tuning run of this config: Table 1, then mgi-<encoder> per other encoder."""
    return table1_runs() + [r for r in ablation_runs().values() if r != "mgi"]


def finetune_pretrained(wildcards):
    """The pre-trained model a run starts from ({} for the baselines)."""
    run = wildcards.run
    if run in BASELINES:
        return {}
    encoder = run[4:] if run.startswith("mgi-") else config["finetune"]["gene_encoder"]
    path = f"{PRETRAIN_DIR}/{encoder}/model.pt"  # cv: the run's own fold's pre-training
    return {"pretrained": path.format(fold=wildcards.get("fold", ""))}
