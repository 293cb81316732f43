# Image-gene contrastive pre-training, one run per gene encoder (+ retrieval on test patients).


include: "training.smk"


rule pretrain_train:
    input:
        **TRAIN_INPUTS,
    output:
        model=f"{PRETRAIN_DIR}/{{encoder}}/model.pt",
        metrics=f"{PRETRAIN_DIR}/{{encoder}}/metrics.csv",
        retrieval=f"{PRETRAIN_DIR}/{{encoder}}/retrieval.csv",
    log:
        f"{FOLD_LOGS}/pretrain/{{encoder}}.log",
    benchmark:
        f"{FOLD_LOGS}/pretrain/{{encoder}}.bench.tsv"
    wildcard_constraints:
        encoder="|".join(pretrain_encoders()),
    priority: 10  # first: every mgi/image_only run waits for it
    conda:
        "../envs/torch.yaml"
    threads: config["pretrain"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["pretrain"]["mem_mb"],
        runtime=config["pretrain"]["runtime"],
    params:
        # undeclared: survives a failed (SIGTERM'd) job, so the rerun resumes from it
        ckpt_dir=f"{PRETRAIN_DIR}/{{encoder}}/checkpoints",
        pretrain=keys.pretrain(config),
        model=lambda wildcards: keys.pretrain_model(config, wildcards.encoder),
    script:
        "../workflow/scripts/pretrain_train.py"


if len(PRE_SEEDS) > 1:

    # pretrain.seeds beyond the first: the same job under results/pretrain/seed{seed}/
    use rule pretrain_train as pretrain_train_seed with:
        output:
            model=f"{PRETRAIN_DIR}/seed{{seed}}/{{encoder}}/model.pt",
            metrics=f"{PRETRAIN_DIR}/seed{{seed}}/{{encoder}}/metrics.csv",
            retrieval=f"{PRETRAIN_DIR}/seed{{seed}}/{{encoder}}/retrieval.csv",
        log:
            f"{FOLD_LOGS}/pretrain/seed{{seed}}/{{encoder}}.log",
        benchmark:
            f"{FOLD_LOGS}/pretrain/seed{{seed}}/{{encoder}}.bench.tsv"
        wildcard_constraints:
            encoder="|".join(pretrain_encoders()),
            seed="|".join(PRE_SEEDS[1:]),
        params:
            ckpt_dir=f"{PRETRAIN_DIR}/seed{{seed}}/{{encoder}}/checkpoints",
            pretrain=lambda wildcards: keys.pretrain(config, wildcards.seed),
            model=lambda wildcards: keys.pretrain_model(config, wildcards.encoder),


TARGETS += per_fold(
    f"{PRETRAIN_DIR}/{{encoder}}/{{file}}",
    encoder=pretrain_encoders(),
    file=["model.pt", "metrics.csv", "retrieval.csv"],
)
TARGETS += per_fold(
    f"{PRETRAIN_DIR}/seed{{seed}}/{{encoder}}/{{file}}",
    seed=PRE_SEEDS[1:],
    encoder=pretrain_encoders(),
    file=["model.pt", "metrics.csv", "retrieval.csv"],
)
