"""LaTeX tables a paper can ``\\input``: booktabs rules, CIs in brackets, the best value in bold.

The text needs only ``\\usepackage{booktabs}`` in the paper's preamble; it compiles with plain
``pdflatex``. Cells are built here (numbers formatted, text escaped) and joined by
:func:`table_env`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape(text: object) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def num(value: float, digits: int = 3, *, sign: bool = False) -> str:
    """A number for a cell: ``--`` for NaN, a real minus sign, ``+`` first with ``sign``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("-", "$-$", 1) if text.startswith("-") else text


def with_ci(value: float, low: float, high: float, digits: int = 3, *, bold: bool = False,
            sign: bool = False) -> str:  # fmt: skip
    """``value [low, high]``; the value in bold with ``bold``; no brackets where the CI is NaN."""
    head = num(value, digits, sign=sign)
    if bold and head != "--":
        head = rf"\textbf{{{head}}}"
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return head
    return f"{head} [{num(low, digits)}, {num(high, digits)}]"


def pvalue(p: float) -> str:
    """A p-value cell: three decimals, ``<0.001`` below that, ``--`` for NaN."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "--"
    return "$<$0.001" if p < 0.001 else f"{p:.3f}"


def table_env(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    align: str,
    caption: str,
    label: str,
    note: str,
    groups: Sequence[int] = (),
) -> str:
    """A ``table`` float: ``caption``, a booktabs ``tabular`` (``align``: one letter per
    column), a footnote ``note`` under it; ``\\midrule`` before the rows indexed in ``groups``.
    Cells are LaTeX already (see :func:`escape`)."""
    if len(align) != len(header) or any(len(r) != len(header) for r in rows):
        raise ValueError(f"LaTeX table {label}: every row needs {len(header)} cells ({align})")
    lines = [
        f"% {caption} -- written by mgi-pipeline; needs \\usepackage{{booktabs}}",
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    for i, row in enumerate(rows):
        if i in groups and i:
            lines.append(r"\midrule")
        lines.append(" & ".join(row) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip",
        r"\begin{minipage}{\linewidth}\footnotesize",
        note,
        r"\end{minipage}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
