# rules/evaluate.smk
