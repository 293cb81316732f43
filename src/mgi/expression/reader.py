"""Read one GDC STAR-Counts TSV: the gene ids and one measure column, validated.

The file is ``# gene-model: GENCODE v36``, the header ``gene_id gene_name gene_type unstranded
stranded_first stranded_second tpm_unstranded fpkm_unstranded fpkm_uq_unstranded``, four ``N_*``
rows (STAR's unmapped/multimapping/noFeature/ambiguous counts, not genes), then ~60,660 genes
with versioned ids (``ENSG00000002586.20`` and its ``ENSG00000002586.20_PAR_Y`` twin are two
keys; versions are never stripped). ``.gz`` files are read transparently.

Speed: pyarrow's C++ CSV reader parses the block, converting only ``gene_id`` (as *binary*: no
UTF-8 validation, ~2x faster than ``string``) and the measure column; the leading comment, header
and ``N_*`` rows are skipped by row count after a tiny Python sniff of the first lines. Errors are
located precisely by a slow pure-Python rescan that runs only on the failure path.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

MEASURES = ("tpm_unstranded", "fpkm_uq_unstranded", "unstranded")  # unstranded: counts -> CPM
ANNOTATION = ("gene_id", "gene_name", "gene_type")
_SNIFF_LINES = 16  # comment + header + N_* rows all sit in the first lines


@dataclass(frozen=True)
class Layout:
    """Where the gene rows of one file start and what its columns are called."""

    skip_rows: int  # lines before the first gene row (comments, header, leading N_* rows)
    columns: tuple[str, ...]  # header names


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), newline="")
    return open(path, newline="")  # noqa: SIM115 - returned to a with-block


def sniff(path: str | Path, measure: str) -> Layout:
    """Find the header and the leading ``N_*`` rows of ``path``.

    Raises:
        ValueError: empty file, no ``gene_id`` header, or a missing ``measure`` column.
    """
    path = Path(path)
    with _open_text(path) as fh:
        lines = [line for _, line in zip(range(_SNIFF_LINES), fh, strict=False)]
    if not lines or not any(line.strip() for line in lines):
        raise ValueError(f"{path}: empty file")
    skip = 0
    while skip < len(lines) and lines[skip].startswith("#"):
        skip += 1
    if skip == len(lines):
        raise ValueError(f"{path}: truncated: no header line after the comments")
    columns = tuple(lines[skip].rstrip("\r\n").split("\t"))
    missing = [c for c in (*ANNOTATION, measure) if c not in columns]
    if missing:
        raise ValueError(
            f"{path}: line {skip + 1}: not a STAR-Counts header (missing {missing}): "
            f"{lines[skip][:80]!r}"
        )
    skip += 1
    while skip < len(lines) and lines[skip].startswith("N_"):
        skip += 1
    if skip == len(lines) and len(lines) < _SNIFF_LINES:
        raise ValueError(f"{path}: truncated: no gene rows after the header")
    return Layout(skip, columns)


def read_columns(path: str | Path, layout: Layout, columns: dict[str, pa.DataType]) -> pa.Table:
    """Parse the gene rows of ``path``, converting only ``columns`` (name -> arrow type).

    Raises:
        ValueError: naming the file, line and column of the first malformed value.
    """
    path = Path(path)
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                skip_rows=layout.skip_rows,
                column_names=list(layout.columns),
                use_threads=False,  # files are parsed in parallel one level up
                block_size=8 << 20,
            ),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(columns),
                column_types=columns,
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, EOFError, OSError) as err:
        numeric = [c for c, t in columns.items() if pa.types.is_floating(t)]
        problem = locate_problem(path, layout, numeric)
        raise ValueError(f"{path}: {problem or err}") from None


def locate_problem(path: Path, layout: Layout, numeric: list[str]) -> str | None:
    """Slow rescan (failure path only): the first line with a wrong field count or bad number."""
    idx = [layout.columns.index(c) for c in numeric]
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            for line_no, row in enumerate(reader, start=1):
                if line_no <= layout.skip_rows:
                    continue
                if len(row) != len(layout.columns):
                    return (
                        f"line {line_no}: {len(row)} fields, expected {len(layout.columns)} "
                        "(truncated or malformed row)"
                    )
                for name, i in zip(numeric, idx, strict=True):
                    problem = value_problem(row[i])
                    if problem:
                        return f"line {line_no}, column {name}: {problem}"
    except (EOFError, OSError, UnicodeDecodeError) as err:
        return f"truncated or corrupt file ({err})"
    return None


def value_problem(text: str) -> str | None:
    """Why ``text`` is not a valid expression value (None if it is)."""
    try:
        value = float(text)
    except ValueError:
        return f"non-numeric value {text!r}"
    if math.isnan(value):
        return f"NaN value {text!r}"
    if math.isinf(value) or value < 0:
        return f"{'infinite' if math.isinf(value) else 'negative'} value {text!r}"
    return None


def check_values(path: Path, layout: Layout, name: str, values: np.ndarray) -> None:
    """Raise naming file, line and column if ``values`` holds a NaN/null, inf or negative."""
    ok = np.isfinite(values) & (values >= 0)
    if ok.all():
        return
    i = int(np.flatnonzero(~ok)[0])
    v = values[i]
    kind = "missing or NaN" if np.isnan(v) else ("infinite" if np.isinf(v) else "negative")
    raise ValueError(f"{path}: line {layout.skip_rows + i + 1}, column {name}: {kind} value {v}")
