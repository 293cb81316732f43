"""Expression stage: GDC STAR-Counts files -> one normalised matrix (see ``build``).

Public API (the contract with later stages): ``read_matrix(path) -> DataFrame`` (index
case barcode, columns versioned gene ids, float32 log2(x+1)) and ``read_zscore(path) ->
(mean, std)`` per gene, fitted on training patients. ``build_matrix`` writes them. The matrix is
a typed Parquet table any reader opens (``matrix_io``); ``write_h5ad`` exports it as AnnData.
"""

from mgi.expression.build import ExpressionOptions, build_matrix
from mgi.expression.export import write_h5ad
from mgi.expression.matrix_io import read_matrix, read_provenance, read_zscore

__all__ = [
    "ExpressionOptions",
    "build_matrix",
    "read_matrix",
    "read_provenance",
    "read_zscore",
    "write_h5ad",
]
