# Pair images with RNA-seq by case barcode; patient-level train/val/test split (cv: per fold).


rule cohort_split:
    input:
        files=f"{GDC_DIR}/files.tsv",
        index=f"{STORE}/index.parquet",
        clinical=CLINICAL,
        kaggle_3m=imaging_table(),
    output:
        paired=f"{COHORT}/paired.tsv",
        unpaired=f"{COHORT}/unpaired.tsv",
        splits=per_fold(SPLIT),
    log:
        "logs/cohort/split.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        split=keys.split(config),
    script:
        "../workflow/scripts/cohort_split.py"


TARGETS += per_fold(SPLIT)
