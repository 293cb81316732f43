"""Which files to fetch: a project's open STAR-Counts RNA-seq, as ``files.tsv`` and a manifest.

A ``/files`` hit for the fields below looks like (GDC API, ``fields`` with dotted names)::

    {"id": ..., "file_id": ..., "file_name": ..., "md5sum": ..., "file_size": 4213456,
     "cases": [{"case_id": ..., "submitter_id": "TCGA-CS-4941",
                "samples": [{"submitter_id": "TCGA-CS-4941-01A", "sample_type": "Primary Tumor"}]}]}

``file_id`` and ``file_name`` come from the server and are untrusted: ids must be UUIDs and names
are reduced to one safe path component (see :func:`safe_file_name`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from mgi.atomic import atomic_path

log = logging.getLogger(__name__)

FILE_FIELDS = [
    "file_id",
    "file_name",
    "md5sum",
    "file_size",
    "state",
    "cases.case_id",
    "cases.submitter_id",
    "cases.samples.submitter_id",
    "cases.samples.sample_type",
]
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MD5 = re.compile(r"^[0-9a-f]{32}$")
UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class FileRecord:
    """One row of ``files.tsv`` (the column order of the contract)."""

    file_id: str
    file_name: str
    md5sum: str
    file_size: int
    case_id: str
    case_submitter_id: str
    sample_submitter_id: str
    sample_type: str


COLUMNS = [f.name for f in fields(FileRecord)]


def rnaseq_filters(project: str) -> dict[str, Any]:
    """GDC filters for ``project``'s open STAR-Counts gene expression files."""
    terms = {
        "cases.project.project_id": project,
        "files.data_type": "Gene Expression Quantification",
        "files.analysis.workflow_type": "STAR - Counts",
        "files.access": "open",
    }
    return {
        "op": "and",
        "content": [{"op": "in", "content": {"field": k, "value": [v]}} for k, v in terms.items()],
    }


def safe_file_name(name: str, file_id: str) -> str:
    """One path component made from a server-given ``name``: never ``..``, ``/`` or absolute."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    safe = UNSAFE.sub("_", base).lstrip(".")
    if not safe:
        safe = f"{file_id}.tsv"
    if safe != name:
        log.warning("file %s: unsafe file_name %r stored as %r", file_id, name, safe)
    return safe


def file_record(hit: dict[str, Any]) -> FileRecord | None:
    """A :class:`FileRecord` from one ``/files`` hit; ``None`` (logged) if it has no case."""
    file_id = str(hit.get("file_id") or hit.get("id") or "")
    if not UUID.match(file_id):
        raise ValueError(f"GDC /files: file_id {file_id!r} is not a UUID (hit {hit})")
    try:
        md5, size, name = str(hit["md5sum"]).lower(), int(hit["file_size"]), str(hit["file_name"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"GDC /files: file {file_id} lacks {err} in its hit") from err
    if not MD5.match(md5) or size < 0:
        raise ValueError(f"GDC /files: file {file_id} has md5sum {md5!r} / size {size}")
    cases = hit.get("cases") or []
    if not cases:
        log.warning("file %s (%s): no case in the hit; skipped", file_id, name)
        return None
    if len(cases) > 1:
        log.warning("file %s: %d cases, using the first", file_id, len(cases))
    case = cases[0]
    samples = case.get("samples") or [{}]
    if len(samples) > 1:
        log.warning("file %s: %d samples, using the first", file_id, len(samples))
    record = FileRecord(
        file_id=file_id.lower(),
        file_name=safe_file_name(name, file_id),
        md5sum=md5,
        file_size=size,
        case_id=str(case.get("case_id", "")),
        case_submitter_id=str(case.get("submitter_id", "")),
        sample_submitter_id=str(samples[0].get("submitter_id", "")),
        sample_type=str(samples[0].get("sample_type", "")),
    )
    if any(c in v for v in astuple(record) if isinstance(v, str) for c in "\t\r\n"):
        raise ValueError(f"GDC /files: file {file_id} has a tab or newline in its metadata")
    return record


def project_files(client, project: str, *, page_size: int = 500) -> list[FileRecord]:
    """Every open STAR-Counts file of ``project`` (deduplicated by id, sorted by case)."""
    records: dict[str, FileRecord] = {}
    hits = client.search(
        "files", rnaseq_filters(project), FILE_FIELDS, sort="file_id:asc", page_size=page_size
    )
    for hit in hits:
        record = file_record(hit)
        if record is not None:
            records.setdefault(record.file_id, record)
    if not records:
        raise RuntimeError(f"GDC {client.api_url}: no open STAR-Counts files for {project}")
    log.info("GDC %s: %d STAR-Counts files", project, len(records))
    return sorted(records.values(), key=lambda r: (r.case_submitter_id, r.file_id))


def write_tables(records: list[FileRecord], out_dir: str | Path) -> None:
    """``files.tsv`` (contract columns) and the GDC manifest ``manifest.tsv``, atomically."""
    out_dir = Path(out_dir)
    rows = ["\t".join(COLUMNS)] + ["\t".join(map(str, astuple(r))) for r in records]
    manifest = ["id\tfilename\tmd5\tsize\tstate"] + [
        f"{r.file_id}\t{r.file_name}\t{r.md5sum}\t{r.file_size}\treleased" for r in records
    ]
    with atomic_path(out_dir / "files.tsv") as tmp:
        tmp.write_text("\n".join(rows) + "\n")
    with atomic_path(out_dir / "manifest.tsv") as tmp:
        tmp.write_text("\n".join(manifest) + "\n")
