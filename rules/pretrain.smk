# rules/pretrain.smk
