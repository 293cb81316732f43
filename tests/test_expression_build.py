"""The expression build: filters and z-score statistics from training patients only; the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_expression import GENES, csv_reference, make_gdc

from mgi.cli import main
from mgi.expression import ExpressionOptions, build_matrix, read_matrix, read_zscore

CASES = [f"TCGA-AB-{i:04d}" for i in range(6)]


@pytest.fixture()
def gdc_split(tmp_path):
    gdc = make_gdc(tmp_path, n_cases=6, seed=1)
    split = tmp_path / "split.tsv"
    pd.DataFrame(
        {"case_id": CASES[1:], "split": ["train", "train", "test", "train", "test"], "fold": -1}
    ).to_csv(split, sep="\t", index=False)  # CASES[0]: RNA-seq only, in neither side
    return gdc, split


def raw_tpm(gdc) -> np.ndarray:
    """Independent (csv module) TPM matrix, (6 cases, genes)."""
    return np.stack(
        [csv_reference(next((gdc / f"file-{i}").iterdir()), "tpm_unstranded")[1] for i in range(6)]
    )


def test_zscore_and_topk_fitted_on_training_only(gdc_split, tmp_path):
    gdc, split = gdc_split
    out = tmp_path / "res"
    genes = build_matrix(
        gdc,
        out / "matrix.parquet",
        options=ExpressionOptions(top_k_variance=3, workers=2),
        split=split,
        genes_out=out / "genes.tsv",
        zscore_out=out / "zscore.parquet",
    )
    logx = np.log2(raw_tpm(gdc) + 1)
    train = [1, 2, 4]  # rows of the split's training cases
    top = np.sort(np.argsort(-logx[train].std(axis=0), kind="stable")[:3])
    expected_genes = [GENES[j] for j in top]
    m = read_matrix(out / "matrix.parquet")
    assert list(m.index) == CASES and list(m.columns) == expected_genes
    np.testing.assert_allclose(m.to_numpy(), logx[:, top], rtol=2e-6)
    mean, std = read_zscore(out / "zscore.parquet")
    assert list(mean.index) == expected_genes
    np.testing.assert_allclose(mean.to_numpy(), logx[train][:, top].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std.to_numpy(), logx[train][:, top].std(axis=0), rtol=1e-5)
    table = pd.read_csv(out / "genes.tsv", sep="\t")
    assert list(table.columns) == ["gene_id", "gene_name", "gene_type", "order"]
    assert list(table.gene_id) == expected_genes and list(table.order) == [0, 1, 2]
    assert list(genes.gene_id) == expected_genes


def test_min_expression_and_gene_types_use_training_rows(gdc_split, tmp_path):
    gdc, split = gdc_split
    tpm = raw_tpm(gdc)
    opts = ExpressionOptions(
        gene_types=("protein_coding", "lncRNA"), min_expression=20.0, min_fraction=0.6
    )
    build_matrix(gdc, tmp_path / "m.parquet", options=opts, split=split)
    types = ["protein_coding", "protein_coding", "protein_coding", "lncRNA", "miRNA", "lncRNA"]
    keep = [
        g
        for j, g in enumerate(GENES)
        if types[j] != "miRNA" and (tpm[[1, 2, 4], j] >= 20.0).mean() >= 0.6
    ]
    assert list(read_matrix(tmp_path / "m.parquet").columns) == keep


def test_statistics_need_a_split(tmp_path):
    gdc = make_gdc(tmp_path)
    with pytest.raises(ValueError, match="need a split"):
        build_matrix(gdc, tmp_path / "m.parquet", zscore_out=tmp_path / "z.parquet")
    assert not (tmp_path / "m.parquet").exists()


def test_split_with_unknown_training_case_fails(gdc_split, tmp_path):
    gdc, split = gdc_split
    table = pd.read_csv(split, sep="\t")
    table.loc[0, "case_id"] = "TCGA-ZZ-9999"
    table.to_csv(split, sep="\t", index=False)
    with pytest.raises(ValueError, match="training patients without RNA-seq"):
        build_matrix(gdc, tmp_path / "m.parquet", split=split)


def test_cli_build(gdc_split, tmp_path):
    gdc, split = gdc_split
    out = tmp_path / "cli"
    argv = ["expression", "build", "--gdc-dir", str(gdc), "--out", str(out / "m.parquet")]
    extra = ["--split", str(split), "--zscore-out", str(out / "z.parquet"), "--workers", "2"]
    assert main([*argv, "--measure", "unstranded", *extra]) == 0
    m = read_matrix(out / "m.parquet")
    counts = np.stack(
        [csv_reference(next((gdc / f"file-{i}").iterdir()), "unstranded")[1] for i in range(6)]
    )
    cpm = counts / counts.sum(axis=1, keepdims=True) * 1e6
    np.testing.assert_allclose(m.to_numpy(), np.log2(cpm + 1), rtol=2e-6)
    assert main([*argv, "--gdc-dir", str(tmp_path / "nowhere")]) == 1  # files.tsv not found


def test_demo_dag_dry_run(repo):
    """The workflow knows how to make the matrix (snakemake -n, no jobs run)."""
    import subprocess
    import sys
    from pathlib import Path

    snakemake = Path(sys.executable).parent / "snakemake"
    res = subprocess.run(
        [str(snakemake), "-n", "--forceall", "results/expression/matrix.parquet"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "expression_build" in res.stdout + res.stderr


def test_matrix_round_trip_and_foreign_parquet(tmp_path):
    from mgi.expression import read_provenance
    from mgi.expression.matrix_io import write_matrix

    x = np.random.default_rng(0).random((3, 5), dtype=np.float32)
    genes = ["ENSG1.1", "ENSG2.1", "ENSG2.1_PAR_Y", "ENSG3.2", "ENSG4.9"]
    write_matrix(tmp_path / "m.parquet", x, ["TCGA-A-1", "TCGA-A-2", "TCGA-A-3"], genes, {"s": 1})
    m = read_matrix(tmp_path / "m.parquet")
    assert m.index.name == "case_id" and list(m.columns) == genes
    np.testing.assert_array_equal(m.to_numpy(), x)
    assert read_provenance(tmp_path / "m.parquet") == {"s": 1}
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not an mgi expression matrix"):
        read_matrix(tmp_path / "other.parquet")
    with pytest.raises(FileNotFoundError):
        read_matrix(tmp_path / "missing.parquet")
