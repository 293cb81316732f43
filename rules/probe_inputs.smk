# Paths, settings and input functions of the Table 2 rules (probe.smk, which includes this).

PROBE_DIR = f"{FOLD_DIR}/probe"  # {features}/embeddings.parquet, predictions.csv
LABELS = f"{COHORT}/labels.tsv"
LABEL_SOURCES = f"{COHORT}/label_sources.tsv"
PROBE = config["probe"]
IMAGE_FEATURES = [f for f in PROBE["features"] if f != "genes"]
# which model's ViT each image feature set applies ({fold}: the fold's own)
PROBE_MODELS = {
    "mgi_pretrained": f"{PRETRAIN_DIR}/{config['finetune']['gene_encoder']}/model.pt",
    "image_only_finetuned": f"{FINETUNE_DIR}/image_only/model.pt",
    "mgi_finetuned": f"{FINETUNE_DIR}/mgi/model.pt",
}
PROBE_SLICES = (
    f"brain>={PROBE['brain_share']:g}, pool {PROBE['pool']}"  # named in Table 2
)


def probe_models(wildcards):
    """The model.pt whose ViT each image feature set applies (cv: the fold's own)."""
    fold = wildcards.get("fold", "")
    return {
        f: PROBE_MODELS[f].format(fold=fold)
        for f in IMAGE_FEATURES
        if f in PROBE_MODELS
    }
