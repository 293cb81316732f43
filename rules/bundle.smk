# Trained models for use elsewhere: one bundle per fine-tuned run (results/bundles/{run}.zip,
# built on request: `snakemake results/bundles/mgi.zip`), and external validation: every run's
# bundle predicts each cohort of config `external` (mgi predict); with masks, a Table 1 per
# cohort (results/tables/external_{name}.{csv,md,json}).


include: "bundle_inputs.smk"


rule bundle_export:
    input:
        models=per_fold(f"{FINETUNE_DIR}/{{run}}/model.pt"),
        genes=per_fold(f"{FOLD_DIR}/expression/genes.tsv"),
        zscore=per_fold(TRAIN_ZSCORE),
        store_meta=f"{STORE}/store.json",
        summary=f"{EVALUATE_DIR}/{{run}}/summary.json",
    output:
        f"{BUNDLES_DIR}/{{run}}.zip",
    log:
        "logs/bundles/{run}.log",
    wildcard_constraints:
        run="|".join(re.escape(r) for r in finetune_runs()),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        bundle=keys.bundle(config),
        folds=[f"fold{k}" for k in FOLDS] or ["holdout"],
    script:
        "../workflow/scripts/bundle_export.py"


rule external_predict:
    input:
        bundle=f"{BUNDLES_DIR}/{{run}}.zip",
        sheet=lambda wildcards: EXTERNAL[wildcards.name],
    output:
        predictions=f"{EXTERNAL_DIR}/{{name}}/{{run}}/predictions.tsv",
    log:
        "logs/external/{name}/{run}.log",
    wildcard_constraints:
        run="|".join(re.escape(r) for r in finetune_runs()),
        name="[A-Za-z0-9_-]+",
    conda:
        "../envs/torch.yaml"
    threads: config["finetune"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        # the sheet's content (the images it lists are read by path)
        sheet=lambda wildcards: keys.external_sheet(EXTERNAL[wildcards.name]),
    script:
        "../workflow/scripts/external_predict.py"


rule external_evaluate:
    input:
        predictions=f"{EXTERNAL_DIR}/{{name}}/{{run}}/predictions.tsv",
    output:
        per_patient=f"{EXTERNAL_DIR}/{{name}}/{{run}}/per_patient.csv",
        summary=f"{EXTERNAL_DIR}/{{name}}/{{run}}/summary.json",
    log:
        "logs/external/{name}/{run}.evaluate.log",
    wildcard_constraints:
        run="[A-Za-z0-9_-]+",
        name="[A-Za-z0-9_-]+",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        bootstrap=keys.bootstrap(config),
    script:
        "../workflow/scripts/external_evaluate.py"


rule external_table:
    input:
        summaries=expand(
            f"{EXTERNAL_DIR}/{{name}}/{{run}}/summary.json",
            run=table1_runs(),
            allow_missing=True,
        ),
        per_patient=expand(
            f"{EXTERNAL_DIR}/{{name}}/{{run}}/per_patient.csv",
            run=table1_runs(),
            allow_missing=True,
        ),
    output:
        csv=f"{TABLES_DIR}/external_{{name}}.csv",
        md=f"{TABLES_DIR}/external_{{name}}.md",
        json=f"{TABLES_DIR}/external_{{name}}.json",
    log:
        "logs/external/{name}/table.log",
    wildcard_constraints:
        name="[A-Za-z0-9_-]+",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=table1_runs(),
        bootstrap=keys.bootstrap(config),
    script:
        "../workflow/scripts/external_table.py"


TARGETS += [
    f"{EXTERNAL_DIR}/{name}/{run}/predictions.tsv"
    for name in EXTERNAL
    for run in finetune_runs()
]
TARGETS += [
    f"{TABLES_DIR}/external_{name}.{ext}"
    for name in EXTERNAL
    if external_has_masks(name)
    for ext in ("csv", "md", "json")
]
