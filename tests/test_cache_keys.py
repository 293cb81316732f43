"""Cache keys = what a step reads: for every leaf key of the schema, change it on a finished DAG
and ask Snakemake (a dry run) which jobs rerun.

The finished DAG is the demo with all four gene encoders (so the ablation runs exist), its
outputs created and recorded by ``snakemake --touch``: Snakemake's metadata (params, inputs,
code) is then exactly that of a finished run, without training anything. A job "reruns of its
own" when its reason is anything but "input files updated by another job"; those are compared
with ``EXPECTED`` (one line per schema key: a key without a line fails). Everything else that
reruns must be downstream of them. ``config_record`` (results/config.yaml, the record of the
whole config) reruns with every key and nothing else.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import snakemake_fork
import yaml

import mgi.config

pytestmark = pytest.mark.slow

PARTS = ("Snakefile", "rules", "workflow", "report", "envs", "config.yaml")
ENCODERS = ["mamba", "transformer", "mlp", "group_attention"]
BASELINES = {"unet", "resunet", "deeplabv3plus", "attention_unet"}
ABLATION = {"mgi-transformer", "mgi-mlp", "mgi-group_attention"}
MGI_RUNS = {"mgi", "mgi_shuffled"} | ABLATION  # runs that read genes
PRETRAINED = MGI_RUNS | {"image_only"}  # runs that start from pre-training
RUNS = BASELINES | PRETRAINED


def ft(*runs) -> set[str]:
    return {f"finetune_train[{r}]" for r in runs}


def pre(*encoders) -> set[str]:
    return {f"pretrain_train[{e}]" for e in encoders}


def ev(*runs) -> set[str]:
    return {f"evaluate_run[{r}]" for r in runs}


ALL_PRE = pre(*ENCODERS)
ALL_FT = ft(*RUNS)
SCORE = ev(*RUNS) | {"evaluate_nifti[mgi]"}
AGGREGATES = {  # rules whose input list is "every run" / "every encoder"
    "evaluate_ablation",
    "evaluate_retrieval",
    "report_training_curves",
    "report_pretrain_curves",
    "report_dice_boxplot[dice]",
    "report_dice_boxplot[dice_slice_all]",
}

FOLDS = ("0", "1", "2")  # config.yaml's split.folds


def per_fold(rule: str, name: str, values) -> set[str]:
    return {f"{rule}[{k}, {name}={v}]" for k in FOLDS for v in values}


CV_JOBS = (
    {"cohort_split", "evaluate_retrieval", "report_overlays"}
    | {"report_training_curves", "report_pretrain_curves"}
    | {f"expression_build[{k}]" for k in FOLDS}
    | per_fold("pretrain_train", "encoder", ENCODERS)
    | per_fold("finetune_train", "run", RUNS)
    | per_fold("evaluate_run", "run", RUNS)
    | per_fold("evaluate_nifti", "run", ["mgi"])
    | {f"evaluate_pool[{r}]" for r in RUNS}
    | {f"probe_embed[{k}]" for k in FOLDS}
    | {f"probe_genes[{k}]" for k in FOLDS}
    | {f"probe_fit[{k}]" for k in FOLDS}
    | {"probe_table2"}
)

TABLE1 = BASELINES | {"image_only", "mgi", "mgi_shuffled"}
SECOND_SEED = (
    {f"finetune_train_seed[1, run={r}]" for r in TABLE1}
    | {f"evaluate_run_seed[1, run={r}]" for r in TABLE1}
    | {"evaluate_table1"}  # reads the new seed's per-patient tables too
)

# key -> (new value, the jobs that rerun of their own). Snakemake names a job's own reason only
# where no job it reads from reruns (then "input files updated" is all it says): a fine-tuning
# run below a pre-training that reruns is listed there, and its own key is checked by
# test_finetune_keys_of_a_run below.
EXPECTED: dict[str, tuple[object, set[str]]] = {
    # everything is built from other inputs: the GDC rules appear, the demo's go
    "source": ("gdc", {"gdc_download", "gdc_cases", "gdc_markers", "cohort_split"}),
    "demo.patients": (9, {"demo_synthesize"}),
    "demo.genes": (1200, {"demo_synthesize"}),
    "demo.slices": (7, {"demo_synthesize"}),
    "demo.size": (40, {"demo_synthesize"}),
    "demo.seed": (8, {"demo_synthesize"}),
    # the GDC rules do not exist in the demo; tests/test_gdc_cli.py covers them
    "gdc.api_url": ("http://127.0.0.1:1", set()),
    "gdc.project": ("TCGA-GBM", set()),
    "gdc.processes": (2, set()),
    "gdc.token_file": ("token.txt", set()),
    "gdc.retries": (3, set()),
    "gdc.timeout": (10, set()),
    # kaggle_3m fetched: the fetch appears and the store reruns (the split below it, which
    # now also reads data.csv)
    "imaging.source": ("kaggle", {"imaging_fetch", "imaging_slice"}),
    # the fetch and unpack rules do not exist in the demo; tests/test_imaging_fetch.py covers them
    "imaging.kaggle.dataset": ("someone/lgg", set()),
    "imaging.kaggle.version": (3, set()),
    "imaging.kaggle.patients": (5, set()),
    "imaging.kaggle.retries": (3, set()),
    "imaging.brats.zip": ("brats.zip", set()),
    "imaging.brats.md5": ("0" * 32, set()),
    "imaging.format": ("kaggle_3m", {"imaging_slice"}),  # (with imaging.root, below)
    "imaging.root": ("resources/demo/imaging", {"imaging_slice"}),  # NIfTI found by pattern
    "imaging.sheet": ("resources/demo/imaging/sheet-copy.tsv", {"imaging_slice"}),
    "imaging.patterns": (["{case}/f.nii.gz", "{case}/m.nii.gz"], set()),  # the sheet is used
    "imaging.size": (48, {"imaging_slice"}),
    "imaging.slices": ("tumour", {"imaging_slice"}),
    "imaging.margin": (3, set()),  # read with slices: tumour only
    "imaging.clip_percentiles": ([1.0, 99.0], {"imaging_slice"}),
    "imaging.empty_masks": ("skip", {"imaging_slice"}),
    "imaging.qc_slices": (5, {"imaging_qc"}),  # the QC montage only
    # holdout -> cv: every per-fold job is new, the folds are pooled, figures read fold 0
    "split.scheme": ("cv", CV_JOBS),
    "split.test_fraction": (0.3, {"cohort_split"}),
    "split.folds": (3, set()),  # read with scheme cv only
    "split.val_fraction": (0.1, {"cohort_split"}),
    "split.seed": (5, {"cohort_split"}),
    "split.stratify": ("primary_diagnosis", {"cohort_split"}),
    "expression.measure": ("fpkm_uq_unstranded", {"expression_build"}),
    "expression.sample_types": (["Primary Tumor"], {"expression_build"}),
    "expression.gene_types": (["protein_coding"], {"expression_build"}),
    "expression.min_expression": (2.0, {"expression_build"}),
    "expression.min_fraction": (0.3, {"expression_build"}),
    "expression.top_k_variance": (500, {"expression_build"}),
    "expression.workers": (1, set()),  # the rule's threads
    "model.image.preset": ("small", ALL_PRE),  # (Table 2's untrained ViT: downstream)
    "model.image.patch_size": (16, ALL_PRE),
    "model.image.depth": (3, ALL_PRE),
    "model.genes.d_model": (48, ALL_PRE),
    "model.genes.layers": (2, ALL_PRE),
    "model.genes.patch_size": (
        8,
        pre("mamba", "transformer", "group_attention"),  # the MLP reads genes one by one
    ),
    "model.genes.d_state": (4, pre("mamba")),
    "model.genes.d_conv": (3, pre("mamba")),
    "model.genes.expand": (1, pre("mamba")),
    "model.genes.bidirectional": (False, pre("mamba")),
    "model.genes.block": ("mamba2", pre("mamba")),  # (then also reads heads)
    "model.genes.scan": ("torch", set()),  # which code runs the scan: the same math
    "model.genes.heads": (
        2,
        pre("transformer", "group_attention"),
    ),
    "model.genes.group_size": (8, pre("group_attention")),
    "model.genes.tokens": (4, pre("mlp")),
    "model.genes.hidden": (128, pre("mlp")),
    "model.embed_dim": (32, ALL_PRE),  # the contrastive heads only
    "model.fusion.gene_tokens": (4, ft(*MGI_RUNS)),  # pooling of gene tokens
    "model.fusion.heads": (2, ft(*PRETRAINED)),
    "model.fusion.depth": (1, ft(*PRETRAINED)),
    "model.fusion.dim": (32, ft(*PRETRAINED)),
    "model.fusion.mlp_dim": (64, ft(*PRETRAINED)),
    "model.baselines.channels": ([4, 8, 16, 32, 64], ft("unet", "resunet", "attention_unet")),
    "model.baselines.encoder": ("resnet18", ft("deeplabv3plus")),
    "evaluate.threshold": (0.4, SCORE),
    "evaluate.bootstrap": (500, ev(*RUNS) | {"probe_table2"}),
    "evaluate.confidence": (0.9, ev(*RUNS) | {"probe_table2"}),
    "evaluate.seed": (3, ev(*RUNS) | {"probe_table2"}),
    "evaluate.nifti_runs": (["mgi", "unet"], {"evaluate_nifti[unet]"}),  # a new output
    "evaluate.overlay_run": ("unet", {"report_overlays"}),  # a figure only
    # an external cohort: every run's bundle, and its predictions of the cohort (this sheet has
    # no mask column: no table)
    "external": (
        [{"name": "ext", "sheet": "resources/demo/imaging/sheet-copy.tsv"}],
        {f"bundle_export[{r}]" for r in RUNS} | {f"external_predict[ext, run={r}]" for r in RUNS},
    ),
    # fewer encoders: no job reruns but the tables and figures over all of them
    "pretrain.gene_encoders": (["mamba"], AGGREGATES),
    "pretrain.loss": ("mgi_eq1", ALL_PRE),
    "pretrain.epochs": (3, ALL_PRE),
    "pretrain.batch_size": (4, ALL_PRE),
    "pretrain.tumour_only": (False, ALL_PRE),
    "pretrain.lr": (1.0e-4, ALL_PRE),
    "pretrain.weight_decay": (0.1, ALL_PRE),
    "pretrain.warmup_epochs": (1.0, ALL_PRE),
    "pretrain.min_lr_ratio": (0.1, ALL_PRE),
    "pretrain.grad_clip": (2.0, ALL_PRE),
    "pretrain.seeds": ([4], ALL_PRE),  # another first seed: the plain paths retrain
    "pretrain.device": ("cpu", set()),
    "pretrain.precision": ("fp32", ALL_PRE),  # changes the numbers on a GPU
    "pretrain.threads": (2, set()),
    "pretrain.mem_mb": (16000, set()),
    "pretrain.runtime": (999, set()),
    "pretrain.workers": (2, set()),  # the same batches, loaded in worker processes
    "pretrain.checkpoint_minutes": (1, set()),
    "pretrain.tensorboard": (True, set()),
    # mgi, mgi_shuffled and image_only now start from the transformer's pre-training (mgi is
    # now the transformer run), and the mamba run becomes mgi-mamba
    "finetune.gene_encoder": (
        "transformer",
        ft("mgi", "mgi_shuffled", "image_only", "mgi-mamba") | ev("mgi-mamba"),
    ),
    "finetune.epochs": (3, ALL_FT),
    "finetune.batch_size": (4, ALL_FT),
    "finetune.empty_ratio": (1.0, ALL_FT),
    "finetune.gene_noise": (0.1, ft(*MGI_RUNS)),
    # on: the gene runs retrain with a no-genes token, and mgi predicts its test patients
    # without genes too (a new Table 1 row)
    "finetune.gene_dropout": (
        0.3,
        ft(*MGI_RUNS) | {"finetune_no_genes", "evaluate_run[mgi_no_genes]"},
    ),
    "finetune.ce_weight": (1.0, ALL_FT),
    "finetune.head_lr_mult": (2.0, ft(*PRETRAINED)),
    "finetune.lr": (1.0e-4, ft(*PRETRAINED)),  # the demo's baselines train at baseline_lr
    "finetune.baseline_lr": (1.0e-3, ft(*BASELINES)),
    "finetune.weight_decay": (0.1, ALL_FT),
    "finetune.warmup_epochs": (1.0, ALL_FT),
    "finetune.min_lr_ratio": (0.1, ALL_FT),
    "finetune.grad_clip": (2.0, ALL_FT),
    # a second seed: Table 1's runs once more under seed1/, scored; nothing else trains
    "finetune.seeds": ([0, 1], SECOND_SEED),
    "finetune.shuffle_seed": (2, ft("mgi_shuffled")),  # the negative control only
    "finetune.select": ("val_dice", ALL_FT),  # (the base run has validation patients)
    "finetune.predict_batch": (8, set()),  # the same probabilities, in other chunks
    "finetune.augment.flip_lr": (0.5, ALL_FT),  # every run is augmented alike
    "finetune.augment.affine": (0.2, ALL_FT),
    "finetune.augment.rotate": (10.0, ALL_FT),
    "finetune.augment.zoom": (0.1, ALL_FT),
    "finetune.augment.intensity": (0.2, ALL_FT),
    "finetune.augment.shift": (0.05, ALL_FT),
    "finetune.augment.scale": (0.05, ALL_FT),
    "finetune.augment.elastic": (0.3, ALL_FT),
    "finetune.precision": ("fp16", ALL_FT),
    "finetune.device": ("cpu", set()),
    "finetune.threads": (2, set()),
    "finetune.mem_mb": (16000, set()),
    "finetune.runtime": (999, set()),
    "finetune.workers": (2, set()),  # the same batches, loaded in worker processes
    "finetune.checkpoint_minutes": (1, set()),
    "finetune.tensorboard": (True, set()),
    "probe.labels": (["idh", "tumor_grade"], {"probe_labels"}),
    # fewer feature sets: the embedding job writes fewer files (the probe and Table 2 below it)
    "probe.features": (["mgi_pretrained", "image_pretrained_random", "genes"], {"probe_embed"}),
    "probe.min_per_class": (5, {"probe_labels"}),
    "probe.max_missing": (0.2, {"probe_labels"}),
    "probe.brain_share": (0.3, {"probe_embed"}),
    "probe.pool": ("token", {"probe_embed"}),
    "probe.inner_folds": (3, {"probe_fit"}),
    "probe.c_grid": ([-3, 3, 7], {"probe_fit"}),
    "probe.markers_threshold": (0.7, set()),  # the GDC markers rule is not in the demo
    "probe.seed": (2, {"probe_fit"}),
    "probe.batch_size": (16, set()),  # the same embeddings in other chunks
    "probe.device": ("cpu", set()),
    "probe.threads": (2, set()),
}
# A few changes need a companion edit to make a valid run.
COMPANION = {
    "source": {"imaging.sheet": "resources/demo/imaging/sheet.tsv"},
    "imaging.format": {"imaging.root": "resources/demo/imaging"},
    "imaging.source": {"imaging.format": "kaggle_3m"},
}
DOWNSTREAM = "Input files updated by another job"
BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", re.M)


def schema_leaves(node: dict, prefix: str = "") -> list[str]:
    out = []
    for key, sub in node.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            out += schema_leaves(sub, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def _set(config: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    for key in path:
        config = config[key]
    config[last] = value


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return snakemake_fork.run(workdir, *args)  # ~3x less CPU than a fresh process each


def _job(rule: str, body: str) -> tuple[str, str]:
    fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
    wildcards = fields.get("wildcards", "")
    name = f"{rule}[{wildcards.split('=', 1)[1]}]" if wildcards else rule
    return name, fields.get("reason", "")


def downstream_only(reason: str) -> bool:
    """True if Snakemake reruns the job only because a job it reads from reruns."""
    return all(part.startswith(DOWNSTREAM) for part in reason.split("; "))


def reruns(workdir: Path, configfile: Path) -> dict[str, str]:
    """Job name (``rule[wildcard]``) -> Snakemake's reason, from a dry run."""
    done = _snakemake(workdir, "-n", "--configfile", str(configfile))
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(_job(rule, body) for rule, body in BLOCK.findall(done.stdout))


@pytest.fixture(scope="module")
def finished(repo, tmp_path_factory) -> tuple[Path, dict]:
    """A workflow copy whose whole demo DAG is done (as far as Snakemake can tell)."""
    work = tmp_path_factory.mktemp("cache-keys")
    for part in PARTS:
        (work / part).symlink_to(repo / part)
    base = mgi.config.load([], workdir=repo)
    base["pretrain"]["gene_encoders"] = ENCODERS
    base["split"]["val_fraction"] = 0.2  # validation patients: finetune.select can change
    (work / "base.yaml").write_text(yaml.safe_dump(base))
    summary = _snakemake(work, "--summary", "--configfile", "base.yaml")
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        path = work / line.split("\t")[0]
        if path.suffix:  # directory outputs (qc, nifti) have no suffix
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    (work / "resources/demo/imaging/sheet-copy.tsv").touch()
    touched = _snakemake(work, "--touch", "--forceall", "--configfile", "base.yaml")
    assert touched.returncode == 0, touched.stderr[-3000:]
    assert reruns(work, work / "base.yaml") == {}, "the touched DAG is not finished"
    return work, base


def test_every_schema_key_has_a_line():
    assert sorted(schema_leaves(mgi.config.schema())) == sorted(EXPECTED)


def _changed(work: Path, base: dict, key: str) -> dict[str, str]:
    import copy

    config = copy.deepcopy(base)
    _set(config, key, EXPECTED[key][0])
    for other, value in COMPANION.get(key, {}).items():
        _set(config, other, value)
    path = work / f"changed-{key}.yaml"
    path.write_text(yaml.safe_dump(config))
    return reruns(work, path)


def test_a_changed_key_reruns_exactly_what_reads_it(finished):
    work, base = finished
    with ThreadPoolExecutor(2) as pool:
        changed = pool.map(lambda key: _changed(work, base, key), EXPECTED)
        results = dict(zip(EXPECTED, changed, strict=True))
    problems = []
    for key, jobs in results.items():
        jobs.pop("all", None)
        if "config_record" not in jobs:
            problems.append(f"{key}: results/config.yaml not rewritten")
        jobs.pop("config_record", None)
        own = {job for job, reason in jobs.items() if not downstream_only(reason)}
        expected = EXPECTED[key][1]
        if own != expected:
            problems.append(
                f"{key}: unexpected {sorted(own - expected)}, missing {sorted(expected - own)}"
            )
    assert not problems, "\n".join(problems)


def test_downstream_jobs_rerun_for_updated_inputs_only(finished):
    """A training key reruns its evaluation and tables, but no other training."""
    work, base = finished
    jobs = _changed(work, base, "model.baselines.encoder")
    assert {j for j in jobs if j.startswith(("finetune_train", "pretrain_train"))} == ft(
        "deeplabv3plus"
    )
    assert "evaluate_run[deeplabv3plus]" in jobs and "evaluate_table1" in jobs


def test_a_second_seed_trains_only_the_new_jobs(finished):
    """finetune.seeds [0] -> [0, 1] (a dry run): 7 new fine-tuning jobs, no pre-training, and
    no job of seed 0 reruns."""
    work, base = finished
    jobs = _changed(work, base, "finetune.seeds")
    training = {j for j in jobs if j.startswith(("finetune_train", "pretrain_train"))}
    assert training == {f"finetune_train_seed[1, run={r}]" for r in TABLE1}
    assert not any(j.startswith(("finetune_train[", "evaluate_run[")) for j in jobs)


def test_finetune_keys_of_a_run(repo):
    """What each fine-tuning run reads of model: and finetune: (mgi.config.keys)."""
    from mgi.config import keys

    config = mgi.config.load([], workdir=repo)
    model = {run: keys.finetune_model(config, run) for run in RUNS}
    for run in BASELINES:
        assert set(model[run]) == {"baselines"}
    assert set(model["mgi"]) == set(model["image_only"]) == {"image", "fusion", "genes"}
    assert model["image_only"]["genes"] == {"d_model": config["model"]["genes"]["d_model"]}
    assert "gene_tokens" not in model["image_only"]["fusion"]
    assert set(model["mgi-mlp"]["genes"]) == {"d_model", "layers", "hidden", "tokens"}
    assert "d_state" in model["mgi_shuffled"]["genes"]
    spec = {run: keys.finetune(config, run) for run in RUNS}
    assert "gene_noise" not in spec["image_only"] and "gene_noise" in spec["mgi-mlp"]
    assert "head_lr_mult" not in spec["unet"] and spec["mgi-mlp"]["gene_encoder"] == "mlp"
    assert [r for r in RUNS if "shuffle_seed" in spec[r]] == ["mgi_shuffled"]
    for run in RUNS:
        assert not set(spec[run]) & {*keys.SCHEDULER, "predict_batch", "baseline_lr"}
    # a baseline's lr is baseline_lr where set, else lr (the key, and the cache, unchanged)
    assert spec["unet"]["lr"] == config["finetune"]["baseline_lr"] != spec["mgi"]["lr"]
    config["finetune"]["baseline_lr"] = None
    assert keys.finetune(config, "unet") == {**spec["unet"], "lr": config["finetune"]["lr"]}
