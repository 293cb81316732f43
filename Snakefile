# mgi-pipeline: TCGA RNA-seq + FLAIR MRI -> MGI pre-training, segmentation, Table 1.
# Run: snakemake --cores 2 (the demo; see README.md for the real cohort and the SLURM profile).
from snakemake.utils import min_version

min_version("9.0")


# The demo (config.yaml) is the run without --configfile. Any --configfile replaces it whole
# (several merge in order), so nothing of the demo leaks into another run; Snakemake itself would
# merge --configfile over config.yaml. mgi.config.load (`mgi config show`) follows the same rule.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/config.smk"
include: "rules/demo.smk"
include: "rules/download.smk"
include: "rules/expression.smk"
include: "rules/imaging.smk"
include: "rules/cohort.smk"
include: "rules/pretrain.smk"
include: "rules/finetune.smk"
include: "rules/evaluate.smk"
include: "rules/bundle.smk"
include: "rules/report.smk"
include: "rules/probe.smk"
include: "rules/preflight.smk"


rule all:
    default_target: True
    input:
        final_targets(),
