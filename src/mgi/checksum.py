"""File checksums (the GDC download and the BraTS archive check share one)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def md5_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex md5 of the file at ``path``, read in ``chunk``-byte blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
