"""Imaging stage: FLAIR volumes (NIfTI) or kaggle_3m TIFF slices -> slice store, and back.

``build_store`` writes the store (``images.npy``, ``masks.npy``, ``index.parquet``,
``store.json``); ``SliceStore`` reads it memory-mapped; ``write_qc`` draws per-patient montages;
``write_prediction_nifti`` puts a predicted stack back onto a FLAIR's native grid and affine.
"""

from mgi.imaging.qc import write_qc
from mgi.imaging.store import FORMATS, SliceOptions, SliceStore, build_store, write_store
from mgi.imaging.writeback import write_prediction_nifti

__all__ = [
    "FORMATS",
    "SliceOptions",
    "SliceStore",
    "build_store",
    "write_prediction_nifti",
    "write_qc",
    "write_store",
]
