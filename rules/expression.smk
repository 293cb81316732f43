# rules/expression.smk
# STAR-Counts files -> one log2(x + 1) expression matrix; statistics from training patients only.

from mgi.expression.matrix_io import LAYOUT as MATRIX_LAYOUT


rule expression_build:
    input:
        files=f"{GDC_DIR}/files.tsv",
        split=SPLIT,
    output:
        matrix=MATRIX,
        genes="results/expression/genes.tsv",
        zscore="results/expression/zscore.parquet",
        aliquots="results/expression/aliquots.tsv",
    log:
        "logs/expression/build.log",
    benchmark:
        "logs/expression/build.bench.tsv"
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


TARGETS += [MATRIX, "results/expression/zscore.parquet"]


# AnnData (.h5ad) for scanpy / R (zellkonverter); not a default target:
#   snakemake results/expression/matrix.h5ad
rule expression_export:
    input:
        matrix=MATRIX,
        genes="results/expression/genes.tsv",
        clinical=CLINICAL,
    output:
        h5ad="results/expression/matrix.h5ad",
    log:
        "logs/expression/export.log",
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow/scripts/expression_export.py"
