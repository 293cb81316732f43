# Figures for `snakemake --report results/report.html`: training curves, Dice box plots,
# best/median/worst overlays, the imaging QC montages (tables are marked in evaluate.smk).
# With cv the box plots show every patient; curves and overlays show the first fold's runs.

FIGURES_DIR = "results/figures"
QC_DIR = "results/imaging/qc"  # written by rule imaging_qc


rule report_training_curves:
    input:
        [first_fold(f"{FINETUNE_DIR}/{r}/history.csv") for r in finetune_runs()],
    output:
        report(
            f"{FIGURES_DIR}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
        ),
    log:
        "logs/report/training_curves.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        names=finetune_runs(),
        loss="train_loss",
        title="Fine-tuning: training loss per run",
    script:
        "../workflow/scripts/report_curves.py"


rule report_pretrain_curves:
    input:
        [first_fold(f"{PRETRAIN_DIR}/{e}/metrics.csv") for e in pretrain_encoders()],
    output:
        report(
            f"{FIGURES_DIR}/pretrain_curves.png",
            caption="../report/pretrain_curves.rst",
            category="Training",
        ),
    log:
        "logs/report/pretrain_curves.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        names=pretrain_encoders(),
        loss="loss",
        title="Contrastive pre-training: loss per gene encoder",
    script:
        "../workflow/scripts/report_curves.py"


rule report_dice_boxplot:
    input:
        [f"{EVALUATE_DIR}/{r}/per_patient.csv" for r in finetune_runs()],
    output:
        report(
            f"{FIGURES_DIR}/dice_{{metric}}.png",
            caption="../report/dice_boxplot.rst",
            category="Segmentation",
            subcategory="{metric}",
        ),
    log:
        "logs/report/dice_{metric}.log",
    wildcard_constraints:
        metric="dice|dice_slice|dice_slice_all",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=finetune_runs(),
        metric="{metric}",
    script:
        "../workflow/scripts/report_boxplot.py"


# The spread over folds and seeds: each method x fold x seed mean Dice (table1_folds.csv).
rule report_fold_boxplot:
    input:
        f"{TABLES_DIR}/table1_folds.csv",
    output:
        report(
            f"{FIGURES_DIR}/dice_folds.png",
            caption="../report/dice_folds.rst",
            category="Segmentation",
            subcategory="folds and seeds",
        ),
    log:
        "logs/report/dice_folds.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow/scripts/report_fold_boxplot.py"


rule report_overlays:
    input:
        # one model's test patients (cv: the first fold's)
        per_patient=first_fold(
            f"{FOLD_EVALUATE_DIR}/{config['evaluate']['overlay_run']}/per_patient.csv"
        ),
        predictions=first_fold(
            f"{FINETUNE_DIR}/{config['evaluate']['overlay_run']}/predictions.npz"
        ),
        store=STORE_FILES,
    output:
        report(
            f"{FIGURES_DIR}/overlays.png",
            caption="../report/overlays.rst",
            category="Segmentation",
            subcategory="overlays",
        ),
    log:
        "logs/report/overlays.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        threshold=config["evaluate"]["threshold"],
    script:
        "../workflow/scripts/report_overlays.py"


# The QC montages, copied so the report can show them (rule imaging_qc owns results/imaging/qc).
rule report_qc:
    input:
        QC_DIR,
    output:
        report(
            directory(f"{FIGURES_DIR}/qc"),
            patterns=["{case}.png"],
            caption="../report/qc.rst",
            category="Imaging QC",
        ),
    log:
        "logs/report/qc.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    shell:
        "(mkdir -p {output} && cp {input}/*.png {output}/) 2> {log}"


TARGETS += [
    f"{FIGURES_DIR}/training_curves.png",
    f"{FIGURES_DIR}/pretrain_curves.png",
    f"{FIGURES_DIR}/overlays.png",
    f"{FIGURES_DIR}/dice_folds.png",
    f"{FIGURES_DIR}/qc",
]
TARGETS += [f"{FIGURES_DIR}/dice_{m}.png" for m in ("dice", "dice_slice_all")]
