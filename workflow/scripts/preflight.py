"""Snakemake adapter: the preflight of this config (mgi.preflight); fails on any failure line."""

import logging
from pathlib import Path

from mgi.logsetup import script_logging
from mgi.preflight import preflight, write

script_logging(snakemake.log[0])
report = preflight(
    snakemake.config, device=snakemake.config["finetune"]["device"], store=snakemake.params.store
)
write(report, Path(snakemake.output.json).parent)
for line in report["failures"]:  # one line each, in the log
    logging.getLogger("mgi").error("preflight: %s", line)
if not report["ok"]:
    raise SystemExit(1)
