"""TCGA case barcodes: the key that pairs a patient's images with their RNA-seq.

A case barcode is ``TCGA-<TSS>-<participant>`` (``TCGA-CS-4941``). Sample and aliquot barcodes
extend it (``TCGA-CS-4941-01A-11R-1896-07``); the kaggle_3m folders spell it with underscores and
a scan date (``TCGA_CS_4941_19960909``).
"""

from __future__ import annotations

import re

_BARCODE = re.compile(r"^TCGA[-_]([A-Z0-9]{2})[-_]([A-Z0-9]{4})(?:[-_].*)?$", re.IGNORECASE)


def case_barcode(name: str) -> str:
    """Return the case barcode ``TCGA-XX-XXXX`` inside ``name``.

    Accepts case, sample and aliquot barcodes and kaggle_3m folder names.

    Raises:
        ValueError: if ``name`` holds no TCGA case barcode.
    """
    match = _BARCODE.match(name.strip())
    if not match:
        raise ValueError(f"not a TCGA barcode: {name!r} (expected e.g. TCGA-CS-4941)")
    return f"TCGA-{match.group(1).upper()}-{match.group(2).upper()}"


def is_case_barcode(name: str) -> bool:
    """True if ``name`` contains a TCGA case barcode."""
    return bool(_BARCODE.match(name.strip()))
