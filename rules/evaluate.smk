# Score every fine-tuning run on the test patients (mgi.metrics: dice, dice_slice,
# dice_slice_all, hd95, bootstrap CIs); write predicted masks back as NIfTI; build Table 1,
# the gene-encoder ablation and the retrieval table (results/tables/*.{csv,md,json}).
# With cv each fold's run is scored on the fold's test patients, then evaluate_pool joins the
# folds: every paired patient once, scored by the models of its own fold.

# {run}/per_patient.csv, {run}/summary.json, {run}/nifti/<case>.nii.gz (one fold's test patients)
FOLD_EVALUATE_DIR = f"{FOLD_DIR}/evaluate"
# {run}/per_patient.csv, {run}/summary.json over all test patients (holdout: the same folder)
EVALUATE_DIR = "results/evaluate"
TABLES_DIR = "results/tables"
STORE_FILES = [f"{STORE}/images.npy", f"{STORE}/masks.npy", f"{STORE}/index.parquet"]


# Runs whose predicted masks are written back as NIfTI (NIfTI inputs only).
NIFTI_RUNS = (
    [r for r in config["evaluate"]["nifti_runs"] if r in finetune_runs()]
    if config["imaging"]["format"] == "nifti"
    else []
)


rule evaluate_run:
    input:
        predictions=f"{FINETUNE_DIR}/{{run}}/predictions.npz",
        store=STORE_FILES,
        split=SPLIT,
    output:
        per_patient=f"{FOLD_EVALUATE_DIR}/{{run}}/per_patient.csv",
        summary=f"{FOLD_EVALUATE_DIR}/{{run}}/summary.json",
    log:
        f"{FOLD_LOGS}/evaluate/{{run}}.log",
    benchmark:
        f"{FOLD_LOGS}/evaluate/{{run}}.bench.tsv"
    wildcard_constraints:
        run="[A-Za-z0-9_-]+",
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        evaluate=keys.evaluate(config),
    script:
        "../workflow/scripts/evaluate_run.py"


rule evaluate_nifti:
    input:
        predictions=f"{FINETUNE_DIR}/{{run}}/predictions.npz",
        store=STORE_FILES,
        split=SPLIT,
    output:
        directory(f"{FOLD_EVALUATE_DIR}/{{run}}/nifti"),
    log:
        f"{FOLD_LOGS}/evaluate/{{run}}.nifti.log",
    benchmark:
        f"{FOLD_LOGS}/evaluate/{{run}}.nifti.bench.tsv"
    wildcard_constraints:
        run="[A-Za-z0-9_-]+",
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        threshold=config["evaluate"]["threshold"],
    script:
        "../workflow/scripts/evaluate_nifti.py"


if CV:

    rule evaluate_pool:
        input:
            per_patient=per_fold(f"{FOLD_EVALUATE_DIR}/{{run}}/per_patient.csv"),
        output:
            per_patient=f"{EVALUATE_DIR}/{{run}}/per_patient.csv",
            summary=f"{EVALUATE_DIR}/{{run}}/summary.json",
        log:
            "logs/evaluate/{run}.pool.log",
        wildcard_constraints:
            run="[A-Za-z0-9_-]+",
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            evaluate=keys.evaluate(config),
        script:
            "../workflow/scripts/evaluate_pool.py"


if len(FT_SEEDS) > 1:

    # finetune.seeds beyond the first: scored (and with cv pooled) under evaluate/seed{seed}/
    use rule evaluate_run as evaluate_run_seed with:
        input:
            predictions=f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/predictions.npz",
            store=STORE_FILES,
            split=SPLIT,
        output:
            per_patient=f"{FOLD_EVALUATE_DIR}/seed{{seed}}/{{run}}/per_patient.csv",
            summary=f"{FOLD_EVALUATE_DIR}/seed{{seed}}/{{run}}/summary.json",
        log:
            f"{FOLD_LOGS}/evaluate/seed{{seed}}/{{run}}.log",
        benchmark:
            f"{FOLD_LOGS}/evaluate/seed{{seed}}/{{run}}.bench.tsv"
        wildcard_constraints:
            run="[A-Za-z0-9_-]+",
            seed="|".join(FT_SEEDS[1:]),

    if CV:

        use rule evaluate_pool as evaluate_pool_seed with:
            input:
                per_patient=per_fold(
                    f"{FOLD_EVALUATE_DIR}/seed{{seed}}/{{run}}/per_patient.csv"
                ),
            output:
                per_patient=f"{EVALUATE_DIR}/seed{{seed}}/{{run}}/per_patient.csv",
                summary=f"{EVALUATE_DIR}/seed{{seed}}/{{run}}/summary.json",
            log:
                "logs/evaluate/seed{seed}/{run}.pool.log",
            wildcard_constraints:
                run="[A-Za-z0-9_-]+",
                seed="|".join(FT_SEEDS[1:]),


rule evaluate_table1:
    input:
        summaries=expand(f"{EVALUATE_DIR}/{{run}}/summary.json", run=table1_rows()),
        per_patient=table1_per_patient(),
    output:
        csv=report(
            f"{TABLES_DIR}/table1.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        md=f"{TABLES_DIR}/table1.md",
        json=f"{TABLES_DIR}/table1.json",
        tex=report(
            f"{TABLES_DIR}/table1.tex",
            caption="../report/table1_tex.rst",
            category="Tables",
        ),
        folds=f"{TABLES_DIR}/table1_folds.csv",
    log:
        "logs/evaluate/table1.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=table1_rows(),
        seeds={r: [int(s) for s in run_seeds(r)] for r in table1_rows()},
        bootstrap=keys.bootstrap(config),
        terms=data_terms(config),
    script:
        "../workflow/scripts/evaluate_table1.py"


rule evaluate_ablation:
    input:
        summaries=[f"{EVALUATE_DIR}/{r}/summary.json" for r in ablation_runs().values()],
        # per encoder, every fold's (averaged over folds)
        metrics=[per_fold(f"{PRETRAIN_DIR}/{e}/metrics.csv") for e in ablation_runs()],
        retrieval=[
            per_fold(f"{PRETRAIN_DIR}/{e}/retrieval.csv") for e in ablation_runs()
        ],
    output:
        csv=report(
            f"{TABLES_DIR}/ablation.csv",
            caption="../report/ablation.rst",
            category="Tables",
        ),
        md=f"{TABLES_DIR}/ablation.md",
        json=f"{TABLES_DIR}/ablation.json",
    log:
        "logs/evaluate/ablation.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        encoders=list(ablation_runs()),
    script:
        "../workflow/scripts/evaluate_ablation.py"


rule evaluate_retrieval:
    input:
        retrieval=[
            per_fold(f"{PRETRAIN_DIR}/{e}/retrieval.csv") for e in pretrain_encoders()
        ],
    output:
        csv=report(
            f"{TABLES_DIR}/retrieval.csv",
            caption="../report/retrieval.rst",
            category="Tables",
        ),
        md=f"{TABLES_DIR}/retrieval.md",
        json=f"{TABLES_DIR}/retrieval.json",
    log:
        "logs/evaluate/retrieval.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        encoders=pretrain_encoders(),
    script:
        "../workflow/scripts/evaluate_retrieval.py"


TARGETS += [
    f"{TABLES_DIR}/{stem}.{ext}"
    for stem in ("table1", "ablation", "retrieval")
    for ext in ("csv", "md", "json")
]
TARGETS += [f"{TABLES_DIR}/table1.tex", f"{TABLES_DIR}/table1_folds.csv"]
TARGETS += per_fold(f"{FOLD_EVALUATE_DIR}/{{run}}/nifti", run=NIFTI_RUNS)
