"""The workflow side of bundles: on the shared finished demo (a copy), `snakemake
results/bundles/mgi.zip` builds the bundle, and an external sheet in the config gets every
run's predictions and its own Table 1."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow


def test_bundle_and_external_table_on_the_finished_demo(finished_demo, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(finished_demo, work, symlinks=True)  # copy2: mtimes kept, nothing reruns
    split = pd.read_csv(work / "results/cohort/split.tsv", sep="\t")
    test = split[split.split == "test"].case_id.tolist()[:3]
    ids = [f"PT{k:03d}" for k in range(1, len(test) + 1)]
    sheet = pd.read_csv(work / "resources/demo/imaging/sheet.tsv", sep="\t").set_index("case_id")
    aliquots = pd.read_csv(work / "results/expression/aliquots.tsv", sep="\t").set_index("case_id")
    rows = []
    for k, case in enumerate(test, start=1):
        a = aliquots.loc[case]
        rows.append(
            {
                "case_id": f"PT{k:03d}",
                "flair": str(work / "resources/demo/imaging" / sheet.loc[case, "flair"]),
                "expression": str(work / "resources/demo/gdc" / a.file_id / a.file_name),
                "mask": str(work / "resources/demo/imaging" / sheet.loc[case, "mask"]),
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "ext.tsv", sep="\t", index=False)
    (work / "external.yaml").write_text(
        yaml.safe_dump({"external": [{"name": "ext", "sheet": str(tmp_path / "ext.tsv")}]})
    )
    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [
        str(snakemake),
        "--cores",
        "2",
        "--configfile",
        "config.yaml",
        "small.yaml",
        "external.yaml",
        "--",
        "results/bundles/mgi.zip",
        "results/tables/external_ext.csv",
    ]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "finetune_train" not in done.stderr  # the finished runs are reused, never retrained
    with zipfile.ZipFile(work / "results/bundles/mgi.zip") as zf:
        assert "configs/metadata.json" in zf.namelist()
    table = pd.read_csv(work / "results/tables/external_ext.csv")
    assert table.method.tolist()[:4] == ["unet", "resunet", "deeplabv3plus", "attention_unet"]
    assert (table.n_test_patients == len(test)).all()
    preds = pd.read_csv(work / "results/external/ext/mgi/predictions.tsv", sep="\t")
    assert preds.case_id.tolist() == ids and preds.genes_used.all()
