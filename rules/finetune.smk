# Segmentation fine-tuning: mgi, image_only, mgi_shuffled, the baselines and the encoder ablation
# (run list: finetune_runs() in training.smk).


rule finetune_train:
    input:
        unpack(finetune_pretrained),
        **TRAIN_INPUTS,
    output:
        model=f"{FINETUNE_DIR}/{{run}}/model.pt",
        history=f"{FINETUNE_DIR}/{{run}}/history.csv",
        predictions=f"{FINETUNE_DIR}/{{run}}/predictions.npz",
    log:
        f"{FOLD_LOGS}/finetune/{{run}}.log",
    benchmark:
        f"{FOLD_LOGS}/finetune/{{run}}.bench.tsv"
    wildcard_constraints:
        run="|".join(re.escape(r) for r in finetune_runs()),
    conda:
        "../envs/torch.yaml"
    threads: config["finetune"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["finetune"]["mem_mb"],
        runtime=config["finetune"]["runtime"],
    params:
        # undeclared: survives a failed (SIGTERM'd) job, so the rerun resumes from it
        ckpt_dir=f"{FINETUNE_DIR}/{{run}}/checkpoints",
        finetune=lambda wildcards: keys.finetune(config, wildcards.run),
        model=lambda wildcards: keys.finetune_model(config, wildcards.run),
    script:
        "../workflow/scripts/finetune_train.py"


if len(FT_SEEDS) > 1:

    # finetune.seeds beyond the first: Table 1's runs again under results/finetune/seed{seed}/
    use rule finetune_train as finetune_train_seed with:
        output:
            model=f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/model.pt",
            history=f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/history.csv",
            predictions=f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/predictions.npz",
        log:
            f"{FOLD_LOGS}/finetune/seed{{seed}}/{{run}}.log",
        benchmark:
            f"{FOLD_LOGS}/finetune/seed{{seed}}/{{run}}.bench.tsv"
        wildcard_constraints:
            run="|".join(re.escape(r) for r in table1_runs()),
            seed="|".join(FT_SEEDS[1:]),
        params:
            ckpt_dir=f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/checkpoints",
            finetune=lambda wildcards: keys.finetune(
                config, wildcards.run, wildcards.seed
            ),
            model=lambda wildcards: keys.finetune_model(config, wildcards.run),


TARGETS += per_fold(
    f"{FINETUNE_DIR}/{{run}}/{{file}}",
    run=finetune_runs(),
    file=["model.pt", "history.csv", "predictions.npz"],
)
TARGETS += per_fold(
    f"{FINETUNE_DIR}/seed{{seed}}/{{run}}/{{file}}",
    seed=FT_SEEDS[1:],
    run=table1_runs(),
    file=["model.pt", "history.csv", "predictions.npz"],
)


if NO_GENES:

    # mgi trained with gene dropout predicts its test patients through its "no genes" token
    rule finetune_no_genes:
        input:
            **TRAIN_INPUTS,
            model=f"{FINETUNE_DIR}/mgi/model.pt",
        output:
            predictions=f"{FINETUNE_DIR}/mgi_no_genes/predictions.npz",
        log:
            f"{FOLD_LOGS}/finetune/mgi_no_genes.log",
        conda:
            "../envs/torch.yaml"
        threads: config["finetune"]["threads"]
        resources:
            gpu=1,
            mem_mb=config["finetune"]["mem_mb"],
            runtime=60,
        script:
            "../workflow/scripts/finetune_no_genes.py"
