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

# finetune.gene_encoder in pretrain.gene_encoders: checked by mgi.config.check (common.smk)

# Seeds (README, "Seeds"): each (method, fold, seed) is one fine-tuning job. The first seed of
# finetune.seeds / pretrain.seeds writes the plain paths; any other seed s writes under
# seed{s}/ beside them, so adding a seed trains only the new jobs. Pre-training: one seed
# shared by every fine-tuning seed, or one per fine-tuning seed (paired in order).
FT_SEEDS = [str(s) for s in config["finetune"]["seeds"]]
PRE_SEEDS = [str(s) for s in config["pretrain"]["seeds"]]
if len(PRE_SEEDS) not in (1, len(FT_SEEDS)):
    raise ValueError(
        "config: pretrain.seeds must hold one seed (shared by every fine-tuning seed) or"
        f" one per finetune.seeds entry (paired in order); got {PRE_SEEDS} for {FT_SEEDS}"
    )


def seed_dir(directory, seed, seeds):
    """``directory`` for the first of ``seeds``, else ``directory``/seed{seed}."""
    return directory if str(seed) == seeds[0] else f"{directory}/seed{seed}"


def pretrain_seed(finetune_seed):
    """The pre-training seed a fine-tuning seed starts from."""
    return (
        PRE_SEEDS[0]
        if len(PRE_SEEDS) == 1
        else PRE_SEEDS[FT_SEEDS.index(finetune_seed)]
    )


def pretrain_encoders():
    """The gene encoders pre-trained (config pretrain.gene_encoders)."""
    return list(config["pretrain"]["gene_encoders"])


def table1_runs():
    """The seven Table-1 methods, baselines first."""
    return BASELINES + ["image_only", "mgi", "mgi_shuffled"]


# finetune.gene_dropout > 0: mgi also predicts its test patients without genes (Table 1's row
# `mgi (no genes at test)`), scored as the pseudo-run mgi_no_genes
NO_GENES = config["finetune"]["gene_dropout"] > 0


def table1_rows():
    """Table 1's runs, plus mgi_no_genes when mgi trains with gene dropout."""
    return table1_runs() + (["mgi_no_genes"] if NO_GENES else [])


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
    pre = seed_dir(
        PRETRAIN_DIR, pretrain_seed(wildcards.get("seed", FT_SEEDS[0])), PRE_SEEDS
    )
    path = f"{pre}/{encoder}/model.pt"  # cv: the run's own fold's pre-training
    return {"pretrained": path.format(fold=wildcards.get("fold", ""))}


def run_seeds(run):
    """The fine-tuning seeds of ``run``: all for Table 1's runs, the first for the others."""
    return FT_SEEDS if run in table1_runs() else FT_SEEDS[:1]


def table1_per_patient():
    """Every Table-1 row's pooled per-patient CSVs (EVALUATE_DIR: evaluate.smk), run by run,
    seed by seed."""
    return [
        f"{seed_dir(EVALUATE_DIR, s, FT_SEEDS)}/{r}/per_patient.csv"
        for r in table1_rows()
        for s in run_seeds(r)
    ]
