# rules/expression.smk
# STAR-Counts files -> one log2(x + 1) expression matrix; statistics from training patients only.


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
    script:
        "../workflow/scripts/expression_build.py"


TARGETS += [MATRIX, "results/expression/zscore.parquet"]
