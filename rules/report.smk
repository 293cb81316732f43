# rules/report.smk
