# rules/finetune.smk
