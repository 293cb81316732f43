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


_ANY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def case_key(name: str) -> str:
    """A patient's id in a sample sheet: its TCGA case barcode if ``name`` holds one (so TCGA
    images pair with GDC RNA-seq), else ``name`` itself (your own cohort's ids).

    Raises:
        ValueError: if ``name`` is empty or holds characters other than letters, digits, ``.``,
        ``_`` and ``-`` (it names files and folders).
    """
    name = str(name).strip()
    if is_case_barcode(name):
        return case_barcode(name)
    if not _ANY_ID.match(name):
        raise ValueError(f"case id {name!r}: use letters, digits, '.', '_' or '-'")
    return name
