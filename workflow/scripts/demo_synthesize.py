"""Snakemake adapter: write the embedded demo cohort (mgi.synthetic.synthesize)."""

from mgi.logsetup import script_logging
from mgi.synthetic import DemoSpec, synthesize

script_logging(snakemake.log[0])
synthesize(DemoSpec(**snakemake.params.demo), snakemake.params.out)
