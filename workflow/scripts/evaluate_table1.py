"""Snakemake adapter: Table 1 from the per-patient CSVs of every run and seed (mgi.tables)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import table1

script_logging(snakemake.log[0])
runs, seeds = snakemake.params.runs, snakemake.params.seeds  # seeds: run -> its seeds
files = iter(snakemake.input.per_patient)  # run by run, seed by seed
per_patient = {r: [next(files) for _ in seeds[r]] for r in runs}
table1(
    dict(zip(runs, snakemake.input.summaries, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    per_patient=per_patient,
    bootstrap=snakemake.params.bootstrap,
    config={"runs": runs, "seeds": seeds, "bootstrap": snakemake.params.bootstrap},
    seed=snakemake.params.bootstrap["seed"],
    seeds=max(seeds.values(), key=len),
    data_terms=snakemake.params.terms,
)
