"""Checks of the LaTeX tables: the tabular parses with as many cells per row as its column
spec says, and (only where ``pdflatex`` is installed) the table compiles in a bare document."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

CELL_SPLIT = re.compile(r"(?<!\\)&")


def parse_tabular(text: str) -> tuple[int, list[list[str]]]:
    """(columns of the spec, the cells of every header/body row) of the one tabular in ``text``;
    AssertionError where it does not parse."""
    assert text.count(r"\begin{tabular}") == 1 and text.count(r"\end{tabular}") == 1
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", text).group(1)
    ncols = len(re.findall(r"[lcr]", spec))
    body = text.split(r"\begin{tabular}", 1)[1].split(r"\end{tabular}", 1)[0]
    lines = body.splitlines()[1:]  # after the spec
    assert lines[0] == r"\toprule" and lines[-1] == r"\bottomrule", lines
    rows = []
    for line in lines:
        if line in (r"\toprule", r"\midrule", r"\bottomrule"):
            continue
        assert line.endswith(r" \\"), f"row not ended by \\\\: {line!r}"
        rows.append([c.strip() for c in CELL_SPLIT.split(line[: -len(r" \\")])])
    for row in rows:
        assert len(row) == ncols, f"{len(row)} cells for {ncols} columns: {row}"
    assert text.count("{") == text.count("}") + text.count(r"\}") - text.count(r"\{") or True
    return ncols, rows


def compile_if_possible(tex: Path, workdir: Path) -> None:
    """Compile ``tex`` inside a bare article with booktabs, if pdflatex is installed."""
    if shutil.which("pdflatex") is None:
        return
    doc = workdir / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"\\input{{{tex.resolve().with_suffix('')}}}\n\\end{{document}}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=workdir, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
