# Paths and input functions of rules/bundle.smk (bundles, external cohorts).

BUNDLES_DIR = "results/bundles"
EXTERNAL_DIR = (
    "results/external"  # {name}/{run}/predictions.tsv, per_patient.csv, summary.json
)
EXTERNAL = {e["name"]: e["sheet"] for e in config["external"]}


def external_has_masks(name):
    """Whether an external sheet has a mask column (then its cohort gets a Table 1)."""
    import pandas as pd

    sheet = EXTERNAL[name]
    sep = "," if sheet.lower().endswith(".csv") else "\t"
    try:
        return "mask" in pd.read_csv(sheet, sep=sep, nrows=0).columns
    except (OSError, ValueError):  # missing or empty: the rule names the sheet
        return False
