"""Expression stage: GDC STAR-Counts files -> one normalised matrix (see ``build``).

Public API (the contract with later stages): ``read_matrix(path) -> DataFrame`` (index
case barcode, columns versioned gene ids, float32 log2(x+1)) and ``read_zscore(path) ->
(mean, std)`` per gene, fitted on training patients. ``build_matrix`` writes them.
"""

from mgi.expression.build import ExpressionOptions, build_matrix
from mgi.expression.matrix_io import read_matrix, read_provenance, read_zscore

__all__ = ["ExpressionOptions", "build_matrix", "read_matrix", "read_provenance", "read_zscore"]
