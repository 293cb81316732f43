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


TARGETS += per_fold(
    f"{FINETUNE_DIR}/{{run}}/{{file}}",
    run=finetune_runs(),
    file=["model.pt", "history.csv", "predictions.npz"],
)
