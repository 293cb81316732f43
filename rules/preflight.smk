# Preflight: time each training job of this config on this machine and estimate the whole run
# (mgi.preflight; not part of `all`). On a cluster it runs where the training jobs run (a GPU
# node: resources gpu=1), so its figures are theirs. A measurement: rerun with -R preflight.


rule preflight:
    output:
        json="results/preflight/preflight.json",
        md="results/preflight/preflight.md",
    log:
        "logs/preflight.log",
    conda:
        "../envs/torch.yaml"
    threads: config["finetune"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["finetune"]["mem_mb"],
        runtime=60,
    params:
        store=STORE,  # its index gives the cohort's size once it exists
    script:
        "../workflow/scripts/preflight.py"
