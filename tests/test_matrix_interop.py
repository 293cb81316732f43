"""The expression matrix opens in pandas, polars, pyarrow and DuckDB SQL without mgi (issue 16).

The matrix is built by ``mgi expression build``; a separate Python process that never imports
``mgi`` reads one (case, gene) value with each foreign reader, using only the file itself (the
gene order in its ``mgi.genes`` metadata) or the companion ``genes.tsv`` (0-based ``order``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_expression import make_gdc

from mgi.cli import main
from mgi.expression import read_matrix

pytest.importorskip("duckdb")
pytest.importorskip("polars")

FOREIGN = r"""
import json, sys
import duckdb, pandas as pd, polars as pl, pyarrow.parquet as pq

path, genes_tsv, case, gene = sys.argv[1:]
out = {}

# pyarrow alone: gene order from the file's own metadata
table = pq.read_table(path)
genes = json.loads(table.schema.metadata[b"mgi.genes"])
row = table.column("case_id").to_pylist().index(case)
out["pyarrow"] = table.column("values")[row].values[genes.index(gene)].as_py()
out["pyarrow_type"] = str(table.schema.field("values").type)

# pandas: a column of float32 arrays
frame = pd.read_parquet(path).set_index("case_id")
out["pandas"] = float(frame.loc[case, "values"][genes.index(gene)])

# polars: an Array(Float32, n_genes) column, gene order from genes.tsv
order = pl.read_csv(genes_tsv, separator="\t").filter(pl.col("gene_id") == gene)["order"][0]
pf = pl.read_parquet(path)
out["polars"] = pf.filter(pl.col("case_id") == case)["values"].arr.get(order)[0]
out["polars_dtype"] = str(pf.schema["values"])

# DuckDB SQL: list indices are 1-based; gene order from genes.tsv, then from the file metadata
con = duckdb.connect()
out["duckdb"] = con.execute(
    f"SELECT m.values[g.order + 1] FROM '{path}' m, read_csv('{genes_tsv}', delim='\t') g "
    "WHERE m.case_id = ? AND g.gene_id = ?",
    [case, gene],
).fetchone()[0]
out["duckdb_kv"] = con.execute(
    "WITH i AS (SELECT list_position(from_json(decode(value), '[\"VARCHAR\"]'), ?) AS pos "
    f"FROM parquet_kv_metadata('{path}') WHERE decode(key) = 'mgi.genes') "
    f"SELECT m.values[i.pos] FROM '{path}' m, i WHERE m.case_id = ?",
    [gene, case],
).fetchone()[0]
out["mgi_imported"] = any(name == "mgi" or name.startswith("mgi.") for name in sys.modules)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("interop")
    gdc = make_gdc(root, n_cases=5, seed=3)
    out = root / "res"
    rc = main(
        [
            "expression",
            "build",
            "--gdc-dir",
            str(gdc),
            "--out",
            str(out / "matrix.parquet"),
            "--genes-out",
            str(out / "genes.tsv"),
        ]
    )
    assert rc == 0
    return out


@pytest.mark.parametrize(("case", "gene"), [("TCGA-AB-0003", "ENSG00000002586.20_PAR_Y")])
def test_foreign_readers_agree_with_read_matrix(built, case, gene):
    path, genes_tsv = built / "matrix.parquet", built / "genes.tsv"
    expected = float(read_matrix(path).loc[case, gene])
    res = subprocess.run(
        [sys.executable, "-c", FOREIGN, str(path), str(genes_tsv), case, gene],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got.pop("mgi_imported") is False
    assert got.pop("pyarrow_type").startswith("fixed_size_list<element: float>[")
    assert got.pop("polars_dtype").startswith("Array(Float32")
    assert expected != 0.0
    for reader, value in got.items():
        assert value == pytest.approx(expected, rel=0, abs=0), reader  # float32, bit-exact
