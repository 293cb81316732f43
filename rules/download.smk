# rules/download.smk
