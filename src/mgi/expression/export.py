"""AnnData (``.h5ad``) export of the expression matrix, for scanpy and R (zellkonverter).

``obs`` = cases (index ``case_id``, the case barcode, plus the clinical columns when a clinical
table is given), ``var`` = genes (index ``gene_id``, plus ``gene_name``, ``gene_type`` from
``genes.tsv``), ``X`` = the float32 log2(x+1) matrix, ``uns['mgi_provenance']`` = the build's
provenance (JSON). Written with h5py following the AnnData on-disk specification (anndata 0.8+
reads it), so the export needs only ``h5py`` (a dependency of mgi-pipeline), not the
``anndata`` package itself, which pins pandas < 3.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mgi.atomic import atomic_path
from mgi.expression.matrix_io import read_matrix, read_provenance

log = logging.getLogger(__name__)

# The clinical table (``mgi gdc cases``, the demo) keys cases by barcode in this column; its
# ``case_id`` (the GDC UUID) is kept as ``gdc_case_id`` since obs' index is named ``case_id``.
CLINICAL_KEY = "case_submitter_id"


def obs_table(cases: pd.Index, clinical: str | Path | None) -> pd.DataFrame:
    """One row per matrix case (in matrix order), with the clinical columns if given."""
    obs = pd.DataFrame(index=pd.Index(cases, name="case_id"))
    if clinical is None:
        return obs
    table = pd.read_parquet(clinical)
    if CLINICAL_KEY not in table.columns:
        raise ValueError(f"{clinical}: expected a {CLINICAL_KEY} column (the case barcode)")
    table = table.rename(columns={"case_id": "gdc_case_id"}).drop_duplicates(CLINICAL_KEY)
    table = table.set_index(CLINICAL_KEY)
    missing = int((~cases.isin(table.index)).sum())
    if missing:
        log.warning("%s: %d of %d cases have no clinical row", clinical, missing, len(cases))
    return obs.join(table, how="left")


def var_table(genes: pd.Index, genes_tsv: str | Path | None) -> pd.DataFrame:
    """One row per matrix gene (in matrix order): ``gene_name``, ``gene_type`` if known."""
    var = pd.DataFrame(index=pd.Index(genes, name="gene_id"))
    if genes_tsv is None:
        return var
    table = pd.read_csv(genes_tsv, sep="\t", dtype=str).set_index("gene_id")
    cols = [c for c in ("gene_name", "gene_type") if c in table.columns]
    if not genes.isin(table.index).all():
        raise ValueError(f"{genes_tsv}: does not list every gene of the matrix")
    return var.join(table[cols], how="left")


def _attrs(node, kind: str, version: str, **extra) -> None:
    node.attrs["encoding-type"] = kind
    node.attrs["encoding-version"] = version
    for key, value in extra.items():
        node.attrs[key] = value


def _write_column(group, name: str, col: pd.Series) -> None:
    import h5py

    if pd.api.types.is_bool_dtype(col.dtype) and not col.isna().any():
        _attrs(group.create_dataset(name, data=col.to_numpy(bool)), "array", "0.2.0")
    elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        data = col.to_numpy(np.float64 if col.isna().any() else None, na_value=np.nan)
        _attrs(group.create_dataset(name, data=data), "array", "0.2.0")
    else:  # strings (missing -> ""), categoricals and dates as text
        text = col.astype(object).where(col.notna(), "").astype(str).to_numpy(object)
        ds = group.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))
        _attrs(ds, "string-array", "0.2.0")


def _write_frame(h5, key: str, frame: pd.DataFrame) -> None:
    group = h5.create_group(key)
    index = str(frame.index.name)
    columns = [str(c) for c in frame.columns]
    _attrs(group, "dataframe", "0.2.0", _index=index)
    group.attrs["column-order"] = np.array(columns, dtype=object) if columns else np.array([], "f8")
    _write_column(group, index, pd.Series(frame.index.astype(str), dtype=object))
    for name, col in zip(columns, frame.columns, strict=True):
        _write_column(group, name, frame[col])


def write_h5ad(
    out: str | Path,
    matrix: str | Path,
    *,
    genes: str | Path | None = None,
    clinical: str | Path | None = None,
) -> tuple[int, int]:
    """Write ``matrix`` (``read_matrix``) as an AnnData ``.h5ad`` file atomically.

    Returns:
        ``(n_cases, n_genes)``.
    """
    import h5py

    m = read_matrix(matrix)
    obs, var = obs_table(m.index, clinical), var_table(m.columns, genes)
    prov = read_provenance(matrix)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        _attrs(h5, "anndata", "0.1.0")
        _attrs(h5.create_dataset("X", data=m.to_numpy(np.float32)), "array", "0.2.0")
        _write_frame(h5, "obs", obs)
        _write_frame(h5, "var", var)
        for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
            _attrs(h5.create_group(key), "dict", "0.1.0")
        if prov is not None:
            ds = h5["uns"].create_dataset(
                "mgi_provenance", data=json.dumps(prov), dtype=h5py.string_dtype("utf-8")
            )
            _attrs(ds, "string", "0.2.0")
    log.info("AnnData %d cases x %d genes -> %s", *m.shape, out)
    return m.shape
