# rules/expression.smk
# STAR-Counts files -> one log2(x + 1) expression matrix; statistics from training patients only.

from mgi.expression.matrix_io import LAYOUT as MATRIX_LAYOUT


rule expression_build:
    input:
        files=f"{GDC_DIR}/files.tsv",
        split=SPLIT,
    output:
        matrix=MATRIX,
        genes=f"{FOLD_DIR}/expression/genes.tsv",
        zscore=f"{FOLD_DIR}/expression/zscore.parquet",
        aliquots=f"{FOLD_DIR}/expression/aliquots.tsv",
    log:
        f"{FOLD_LOGS}/expression/build.log",
    benchmark:
        f"{FOLD_LOGS}/expression/build.bench.tsv"
    conda:
        "../envs/data.yaml"
    threads: config["expression"]["workers"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        expression=keys.expression(config),
        # the on-disk layout: a new layout reruns this rule, so
        # matrices of an older layout are rebuilt, never misread
        layout=MATRIX_LAYOUT,
    script:
        "../workflow/scripts/expression_build.py"


TARGETS += per_fold(MATRIX) + per_fold(f"{FOLD_DIR}/expression/zscore.parquet")


# AnnData (.h5ad) for scanpy / R (zellkonverter); not a default target:
#   snakemake results/expression/matrix.h5ad (cv: results/cv/fold0/expression/matrix.h5ad)
rule expression_export:
    input:
        matrix=MATRIX,
        genes=f"{FOLD_DIR}/expression/genes.tsv",
        clinical=CLINICAL,
    output:
        h5ad=f"{FOLD_DIR}/expression/matrix.h5ad",
    log:
        f"{FOLD_LOGS}/expression/export.log",
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow/scripts/expression_export.py"
