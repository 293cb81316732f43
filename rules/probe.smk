# Table 2: what each encoder knows of a patient's labels, from FLAIR alone (a linear probe).
# labels.tsv (GDC markers, kaggle_3m data.csv, GDC clinical) -> patient embeddings per feature
# set (cv: per fold, by that fold's models) -> logistic-regression probe fitted on the fold's
# training patients, scored on its test patients -> Table 2 (AUROC per fold, averaged) + figure.


include: "probe_inputs.smk"


rule probe_labels:
    input:
        paired=f"{COHORT}/paired.tsv",
        clinical=CLINICAL,
        markers=MARKERS,
        kaggle_3m=imaging_table(),
    output:
        labels=LABELS,
        sources=LABEL_SOURCES,
    log:
        "logs/probe/labels.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        probe=keys.probe_labels(config),
    script:
        "../workflow/scripts/probe_labels.py"


# One job per fold for every image feature set: the slices are chosen and torch is loaded once
# (the embeddings cost seconds beside the training they read).
rule probe_embed:
    input:
        unpack(probe_models),
        store=STORE_FILES,
        split=SPLIT,
    output:
        [f"{PROBE_DIR}/{f}/embeddings.parquet" for f in IMAGE_FEATURES],
    log:
        f"{FOLD_LOGS}/probe/embed.log",
    benchmark:
        f"{FOLD_LOGS}/probe/embed.bench.tsv"
    conda:
        "../envs/torch.yaml"
    threads: PROBE["threads"]  # a CPU job (device auto: a GPU where the node has one)
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        features=IMAGE_FEATURES,
        probe=keys.probe_embed(config),
    script:
        "../workflow/scripts/probe_embed.py"


rule probe_genes:
    input:
        matrix=MATRIX,
        zscore=TRAIN_ZSCORE,
        split=SPLIT,
    output:
        f"{PROBE_DIR}/genes/embeddings.parquet",
    log:
        f"{FOLD_LOGS}/probe/genes.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../workflow/scripts/probe_genes.py"


rule probe_fit:
    input:
        embeddings=[f"{PROBE_DIR}/{f}/embeddings.parquet" for f in PROBE["features"]],
        labels=LABELS,
        sources=LABEL_SOURCES,
        split=SPLIT,
    output:
        f"{PROBE_DIR}/predictions.csv",
    log:
        f"{FOLD_LOGS}/probe/fit.log",
    benchmark:
        f"{FOLD_LOGS}/probe/fit.bench.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        features=PROBE["features"],
        probe=keys.probe_fit(config),
    script:
        "../workflow/scripts/probe_fit.py"


rule probe_table2:
    input:
        predictions=per_fold(f"{PROBE_DIR}/predictions.csv"),
        sources=LABEL_SOURCES,
    output:
        csv=report(
            f"{TABLES_DIR}/table2.csv",
            caption="../report/table2.rst",
            category="Tables",
        ),
        md=f"{TABLES_DIR}/table2.md",
        json=f"{TABLES_DIR}/table2.json",
        tex=report(
            f"{TABLES_DIR}/table2.tex",
            caption="../report/table2_tex.rst",
            category="Tables",
        ),
    log:
        "logs/probe/table2.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        features=PROBE["features"],
        slices=PROBE_SLICES,
        bootstrap=keys.bootstrap(config),
        # the probe reads the first seeds' models
        model_seeds={"pretrain": int(PRE_SEEDS[0]), "finetune": int(FT_SEEDS[0])},
        terms=data_terms(config),
    script:
        "../workflow/scripts/probe_table2.py"


rule report_table2:
    input:
        f"{TABLES_DIR}/table2.csv",
    output:
        report(
            f"{FIGURES_DIR}/table2_auroc.png",
            caption="../report/table2_auroc.rst",
            category="Tables",
        ),
    log:
        "logs/report/table2_auroc.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow/scripts/report_table2.py"


TARGETS += [f"{TABLES_DIR}/table2.{ext}" for ext in ("csv", "md", "json", "tex")]
TARGETS += [f"{FIGURES_DIR}/table2_auroc.png", LABELS]
