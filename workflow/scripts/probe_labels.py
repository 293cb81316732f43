"""Snakemake adapter: labels.tsv + label_sources.tsv (mgi.probe.labels.labels_stage)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.probe.labels import LabelRules, labels_stage

script_logging(snakemake.log[0])
cfg = snakemake.params.probe
table = snakemake.input.get("kaggle_3m")  # imaging.source: kaggle: its data.csv
labels_stage(
    snakemake.input.paired,
    snakemake.output.labels,
    snakemake.output.sources,
    names=cfg["labels"],
    clinical=snakemake.input.clinical,
    markers=snakemake.input.markers,
    kaggle_3m=Path(table, "data.csv") if table else None,
    rules=LabelRules(cfg["min_per_class"], cfg["max_missing"]),
)
