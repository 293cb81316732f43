"""AnnData export, the refused previous matrix layout, and the fast CLI start-up (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_expression import make_gdc

from mgi.cli import COMMANDS, build_parser, main
from mgi.expression import read_matrix

h5py = pytest.importorskip("h5py")


@pytest.fixture()
def built(tmp_path):
    gdc = make_gdc(tmp_path, n_cases=4, seed=2)
    out = tmp_path / "res"
    args = ["expression", "build", "--gdc-dir", str(gdc), "--out", str(out / "matrix.parquet")]
    assert main([*args, "--genes-out", str(out / "genes.tsv")]) == 0
    cases = [f"TCGA-AB-{i:04d}" for i in (3, 0, 1)]  # one case (0002) without a clinical row
    pd.DataFrame(
        {
            "case_submitter_id": cases,
            "case_id": ["uuid-3", "uuid-0", "uuid-1"],
            "gender": ["male", None, "female"],
            "age_at_diagnosis": [12000, 15000, 20000],
        }
    ).to_parquet(tmp_path / "cases.parquet", index=False)
    return out, tmp_path / "cases.parquet"


def _frame(group) -> pd.DataFrame:
    """Read an AnnData dataframe group with h5py only (the on-disk spec)."""
    index = group.attrs["_index"]
    cols = {c: group[c][()] for c in group.attrs["column-order"]}
    decode = [v.decode() if isinstance(v, bytes) else v for v in group[index][()]]
    frame = pd.DataFrame(
        {
            c: [x.decode() if isinstance(x, bytes) else x for x in v] if v.dtype == object else v
            for c, v in cols.items()
        },
        index=pd.Index(decode, name=index),
    )
    return frame


def test_h5ad_export_obs_var_x(built, tmp_path):
    out, clinical = built
    h5ad = tmp_path / "m.h5ad"
    rc = main(["expression", "export", "--format", "h5ad", str(h5ad), "--matrix",
               str(out / "matrix.parquet"), "--clinical", str(clinical)])  # fmt: skip
    assert rc == 0
    m = read_matrix(out / "matrix.parquet")
    with h5py.File(h5ad) as f:
        assert f.attrs["encoding-type"] == "anndata"
        x = f["X"][()]
        obs, var = _frame(f["obs"]), _frame(f["var"])
        prov = json.loads(f["uns"]["mgi_provenance"][()])
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, m.to_numpy())
    assert list(obs.index) == list(m.index) and obs.index.name == "case_id"
    assert list(var.index) == list(m.columns) and var.index.name == "gene_id"
    assert list(var.columns) == ["gene_name", "gene_type"]
    assert var.loc["ENSG00000005001.10", "gene_type"] == "lncRNA"
    assert obs.loc["TCGA-AB-0003", "gdc_case_id"] == "uuid-3"
    assert obs.loc["TCGA-AB-0000", "gender"] == ""  # missing text -> ""
    assert np.isnan(obs.loc["TCGA-AB-0002", "age_at_diagnosis"])  # no clinical row
    assert obs.loc["TCGA-AB-0001", "age_at_diagnosis"] == 20000
    assert prov["config"]["measure"] == "tpm_unstranded"


def test_h5ad_reads_in_anndata(built, tmp_path):
    anndata = pytest.importorskip("anndata")  # pins pandas < 3: often absent from this venv
    out, clinical = built
    h5ad = tmp_path / "m.h5ad"
    assert main(["expression", "export", str(h5ad), "--matrix", str(out / "matrix.parquet"),
                 "--clinical", str(clinical)]) == 0  # fmt: skip
    ad = anndata.read_h5ad(h5ad)
    m = read_matrix(out / "matrix.parquet")
    np.testing.assert_array_equal(ad.X, m.to_numpy())
    assert list(ad.obs_names) == list(m.index) and list(ad.var_names) == list(m.columns)
    assert {"gene_name", "gene_type"} <= set(ad.var.columns)


def test_previous_layout_is_refused_not_misread(tmp_path):
    """A matrix of the previous layout (opaque binary rows) raises a clear error."""
    x = np.ones((2, 3), np.float32)
    offsets = pa.py_buffer(np.arange(3, dtype=np.int64) * 12)
    blobs = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2, [None, offsets, pa.py_buffer(x)])
    table = pa.table({"case_id": ["A", "B"], "values": blobs}).replace_schema_metadata(
        {"mgi.genes": json.dumps(["g1", "g2", "g3"]), "mgi.layout": "row-binary-float32-le/1"}
    )
    pq.write_table(table, tmp_path / "old.parquet")
    with pytest.raises(ValueError, match="previous layout.*rebuild"):
        read_matrix(tmp_path / "old.parquet")
    assert main(["expression", "export", str(tmp_path / "o.h5ad"), "--matrix",
                 str(tmp_path / "old.parquet")]) == 1  # fmt: skip
    assert not (tmp_path / "o.h5ad").exists()


def test_wrong_list_size_is_refused(tmp_path):
    arr = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(4, np.float32)), 2)
    table = pa.table({"case_id": ["A", "B"], "values": arr}).replace_schema_metadata(
        {"mgi.genes": json.dumps(["g1", "g2", "g3"]), "mgi.layout": "fixed-size-list-float32/2"}
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="3 float32 values per case"):
        read_matrix(tmp_path / "bad.parquet")


def test_cli_command_table_matches_modules():
    """``mgi --help`` lists commands from ``COMMANDS`` without importing them: keep it true."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert helps == {name: text for name, (_, text) in COMMANDS.items()}
    for name, (module, _) in COMMANDS.items():
        assert sub.choices[name].prog == f"mgi {name}"
        assert sys.modules[f"mgi.commands.{module}"].register


def test_cli_help_imports_no_stage():
    code = (
        "import sys; from mgi.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'numpy', 'pyarrow', 'torch', 'mgi.synthetic') "
        "if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in res.stdout, res.stdout[-500:]
    assert "expression" in res.stdout and "pretrain" in res.stdout
