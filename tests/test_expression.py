"""STAR-Counts reading: values equal an independent csv parse; every bad input fails clearly."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mgi.expression import build_matrix, read_matrix
from mgi.expression.load import load_matrix, read_genes

HEADER = (
    "gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second"
    "\ttpm_unstranded\tfpkm_unstranded\tfpkm_uq_unstranded"
)
N_ROWS = "".join(
    f"{n}\t\t\t5\t6\t7\t\t\t\n"
    for n in ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
)
GENES = [
    "ENSG00000000003.15",
    "ENSG00000002586.20",
    "ENSG00000002586.20_PAR_Y",
    "ENSG00000005001.10",
    "ENSG00000010001.1",
    "ENSG00000200001.3",
]
TYPES = ["protein_coding", "protein_coding", "protein_coding", "lncRNA", "miRNA", "lncRNA"]


def star_text(counts, tpm, genes=GENES) -> str:
    """A STAR-Counts file in the real layout (comment, header, four N_* rows, genes)."""
    rows = [
        f"{g}\tNAME{i}\t{TYPES[i % len(TYPES)]}\t{c}\t{c // 2}\t{c - c // 2}\t{t}\t{t}\t{t}\n"
        for i, (g, c, t) in enumerate(zip(genes, counts, tpm, strict=True))
    ]
    return "# gene-model: GENCODE v36\n" + HEADER + "\n" + N_ROWS + "".join(rows)


def make_gdc(root: Path, n_cases: int = 4, seed: int = 0) -> Path:
    """A tiny GDC folder: files.tsv + <file_id>/<file_name>, random but known values."""
    rng = np.random.default_rng(seed)
    gdc = root / "gdc"
    rows = []
    for i in range(n_cases):
        counts = rng.integers(0, 500, size=len(GENES))
        tpm = np.round(rng.gamma(0.8, 30, size=len(GENES)), 4)
        fid, name = f"file-{i}", f"f{i}.rna_seq.augmented_star_gene_counts.tsv"
        (gdc / fid).mkdir(parents=True)
        (gdc / fid / name).write_text(star_text(counts, tpm))
        case = f"TCGA-AB-{i:04d}"
        rows.append((fid, name, case, f"{case}-01A", "Primary Tumor"))
    cols = ["file_id", "file_name", "case_submitter_id", "sample_submitter_id", "sample_type"]
    pd.DataFrame(rows, columns=cols).to_csv(gdc / "files.tsv", sep="\t", index=False)
    return gdc


def csv_reference(path: Path, column: str) -> tuple[list[str], np.ndarray]:
    """Independent parse with the csv module: gene ids and one column, N_* rows dropped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t") if r and not r[0].startswith("#")]
    header, body = rows[0], [r for r in rows[1:] if not r[0].startswith("N_")]
    j = header.index(column)
    return [r[0] for r in body], np.array([float(r[j]) for r in body])


def first_file(gdc: Path) -> Path:
    return next((gdc / "file-0").iterdir())


def test_matrix_equals_independent_computation(tmp_path):
    gdc = make_gdc(tmp_path)
    build_matrix(gdc, tmp_path / "m.parquet")
    m = read_matrix(tmp_path / "m.parquet")
    assert m.shape == (4, len(GENES)) and (m.dtypes == np.float32).all()
    assert list(m.columns) == GENES  # versioned ids kept, _PAR_Y is its own key
    for i in range(4):
        ids, tpm = csv_reference(next((gdc / f"file-{i}").iterdir()), "tpm_unstranded")
        assert ids == GENES
        np.testing.assert_allclose(
            m.loc[f"TCGA-AB-{i:04d}"].to_numpy(), np.log2(tpm + 1), rtol=2e-6
        )


def test_unstranded_counts_become_cpm(tmp_path):
    gdc = make_gdc(tmp_path)
    genes, values = load_matrix([first_file(gdc)], "unstranded", workers=1)
    _, counts = csv_reference(first_file(gdc), "unstranded")
    np.testing.assert_allclose(values[0], counts / counts.sum() * 1e6, rtol=1e-6)
    assert len(genes) == len(GENES)


def test_real_gdc_file_has_60660_genes(shared_data):
    path = next((shared_data / "gdc").glob("*.augmented_star_gene_counts.tsv"))
    genes, values = load_matrix([path], "tpm_unstranded", workers=1)
    assert len(genes) == 60660 and values.shape == (1, 60660)
    assert genes.gene_id.str.endswith("_PAR_Y").sum() > 0
    assert not genes.gene_id.str.startswith("N_").any()
    ids, tpm = csv_reference(path, "tpm_unstranded")
    assert list(genes.gene_id) == ids
    np.testing.assert_allclose(values[0], tpm.astype(np.float32))


def test_gdc_tool_fixture_gz(shared_data):
    path = shared_data / "gdc" / "gdc-rnaseq-tool_test_set_1.final.tsv.gz"
    genes, values = load_matrix([path], "fpkm_uq_unstranded", workers=1)
    ids, fpkm = csv_reference(path, "fpkm_uq_unstranded")
    assert list(genes.gene_id) == ids and len(ids) == 96
    np.testing.assert_allclose(values[0], fpkm.astype(np.float32))


def test_demo_chooses_primary_tumor(tiny_demo, tmp_path):
    files = pd.read_csv(tiny_demo / "gdc" / "files.tsv", sep="\t")
    build_matrix(tiny_demo / "gdc", tmp_path / "m.parquet", aliquots_out=tmp_path / "a.tsv")
    m, chosen = read_matrix(tmp_path / "m.parquet"), pd.read_csv(tmp_path / "a.tsv", sep="\t")
    assert sorted(m.index) == sorted(files.case_submitter_id.unique())
    assert (chosen.sample_type == "Primary Tumor").all()
    assert (chosen.n_aliquots > 1).sum() == 2
    row = chosen.iloc[0]
    ids, tpm = csv_reference(tiny_demo / "gdc" / row.file_id / row.file_name, "tpm_unstranded")
    np.testing.assert_allclose(m.loc[row.case_id, ids].to_numpy(), np.log2(tpm + 1), rtol=1e-6)
    build_matrix(
        tiny_demo / "gdc",
        tmp_path / "r.parquet",
        aliquots_out=tmp_path / "r.tsv",
        options=_opts(sample_types=("Recurrent Tumor", "Primary Tumor")),
    )
    recurrent = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    assert (recurrent.sample_type == "Recurrent Tumor").sum() == 2


def _opts(**kw):
    from mgi.expression import ExpressionOptions

    return ExpressionOptions(workers=2, **kw)


def _corrupt(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("non-numeric", r"line {line}, column tpm_unstranded: non-numeric value 'abc'"),
        ("negative", r"line {line}, column tpm_unstranded: negative value"),
        ("nan", r"line {line}, column tpm_unstranded: missing or NaN value"),
        ("order", r"gene list differs from the first file at line {line}"),
        ("short-row", r"line {line}: 5 fields, expected 9"),
    ],
)
def test_bad_values_name_file_line_column(tmp_path, kind, pattern):
    gdc = make_gdc(tmp_path)
    bad = next((gdc / "file-2").iterdir())
    lines = bad.read_text().splitlines(keepends=True)
    line = _line_of(bad, GENES[3])
    fields = lines[line - 1].rstrip("\n").split("\t")
    if kind == "order":
        lines[line - 1], lines[line] = lines[line], lines[line - 1]
    elif kind == "short-row":
        lines[line - 1] = "\t".join(fields[:5]) + "\n"
    else:
        fields[6] = {"non-numeric": "abc", "negative": "-1.5", "nan": "NaN"}[kind]
        lines[line - 1] = "\t".join(fields) + "\n"
    bad.write_text("".join(lines))
    with pytest.raises(ValueError, match=str(bad).replace(".", r"\.")) as err:
        build_matrix(gdc, tmp_path / "out" / "m.parquet")
    assert pd.Series([str(err.value)]).str.contains(pattern.format(line=line)).all(), err.value
    assert not (tmp_path / "out" / "m.parquet").exists()
    assert not list((tmp_path / "out").glob("*"))  # no temporary left behind


@pytest.mark.parametrize("kind", ["empty", "cut-mid-row", "cut-at-row", "header-only"])
def test_empty_or_truncated_file_is_named(tmp_path, kind):
    gdc = make_gdc(tmp_path)
    bad = next((gdc / "file-1").iterdir())
    text = bad.read_text()
    cut = {
        "empty": "",
        "cut-mid-row": text[: text.index(GENES[4]) + 12],
        "cut-at-row": text[: text.index(GENES[4])],
        "header-only": text[: text.index("N_unmapped")],
    }[kind]
    bad.write_text(cut)
    with pytest.raises(ValueError, match=r"(empty|truncated)") as err:
        build_matrix(gdc, tmp_path / "m.parquet")
    assert str(bad) in str(err.value)
    assert not (tmp_path / "m.parquet").exists()


def test_missing_file_and_bad_measure(tmp_path):
    gdc = make_gdc(tmp_path)
    bad = first_file(gdc)
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=bad.name):
        build_matrix(gdc, tmp_path / "m.parquet")
    with pytest.raises(ValueError, match="measure"):
        load_matrix([bad], "fpkm_unstranded")


def test_header_must_be_star_counts(tmp_path):
    gdc = make_gdc(tmp_path)
    _corrupt(first_file(gdc), "tpm_unstranded", "tpm")
    with pytest.raises(ValueError, match=r"line 2: not a STAR-Counts header"):
        read_genes(first_file(gdc), "tpm_unstranded")


def test_reference_values_are_finite():
    assert not math.isnan(float("0.0000"))  # the csv reference parses what pyarrow parses
