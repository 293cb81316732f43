"""A local stand-in for the GDC API on 127.0.0.1, as strict as its documentation.

Sources (GDC API Users Guide, https://docs.gdc.cancer.gov/API/Users_Guide/): "Search and
Retrieval" (request body ``filters``/``fields``/``expand``/``size``/``from``/``sort``, ``sort`` as
``<field>:asc``; answer ``{"data": {"hits", "pagination"}, "warnings"}``), "Appendix A: Available
Fields" (file and case fields), "Data Analysis" (``/ssm_occurrences``, ``/cnv_occurrences``, their
``ssm.*``/``cnv.*``/``case.*`` fields; the occurrence index mappings of NCI-GDC/gdc-models), the
API release notes (known issue FEAT-120: unsorted search results may come back in a different
order on every request), and "Downloading Files" (``/data/{id}``, ``Range``).

- ``/status``; ``POST /files``, ``/cases``, ``/ssm_occurrences``, ``/cnv_occurrences``.
- Only documented fields (:data:`DOCUMENTED`): a document holding another field is a bug of the
  test (``ValueError``); a request naming one in ``fields``, ``filters`` or ``sort`` gets HTTP 400
  (stricter than the GDC, whose answer to an unknown field is not documented). No
  ``available_variation_data`` on ``/cases``: the guide lists it only on occurrences.
- ``fields=`` is honoured: a hit holds ``id`` and the fields asked for, nothing else; ``expand``
  adds whole documented sub-documents.
- ``filters`` are evaluated on every endpoint: ``and``/``or``, ``in``/``=``/``!=``/``exclude``,
  ``<``/``<=``/``>``/``>=`` on dotted fields (lists walked: any element matches); fields may carry
  the ``<endpoint>.`` prefix (``files.data_type``). Another op is a 400.
- Without ``sort`` the matching documents come back in a fresh random order on every request
  (FEAT-120), so paging an unsorted query drops and repeats hits; with ``sort`` they are ordered
  by that field (ties in random order).
- ``GET /data/{id}`` with ``Content-Disposition`` and ``Range`` (206 + ``Content-Range``). Faults
  are queued per file id (``"429"``, ``"503"``, ``"drop"`` = close the connection half-way through
  the body, ``"corrupt"``, ``"ignore_range"``) or for the search endpoints (``api_faults``).
  Every request is recorded.

Used by tests/test_gdc*.py, tests/test_imaging_fetch.py and benchmarks/gdc_download.py.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class Body:
    """File bytes: given ``data``, or ``size`` bytes of a seeded 64 KiB pattern (no big buffers)."""

    def __init__(self, data: bytes | None = None, *, size: int = 0, seed: int = 0) -> None:
        if data is None:
            block = np.random.default_rng(seed).integers(0, 256, 1 << 16, np.uint8).tobytes()
            self.block, self.size = block * 5, size  # 5 blocks: any 256 KiB slice is contiguous
        else:
            self.block, self.size = data, len(data)
        self.period = len(self.block) if data is not None else 1 << 16
        digest = hashlib.md5()
        for start in range(0, self.size, 1 << 18):
            digest.update(self.slice(start, min(self.size, start + (1 << 18))))
        self.md5 = digest.hexdigest()

    def slice(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``; pattern bodies are served in pieces of <= 256 KiB."""
        if self.size == len(self.block):
            return self.block[start:end]
        out = bytearray()
        while start < end:
            n = min(end - start, 1 << 18)
            offset = start % self.period
            out += self.block[offset : offset + n]
            start += n
        return bytes(out)


# Fields each endpoint serves, filters and sorts on: the API Users Guide's Appendix A ("File
# Fields", "Case Fields") for /files and /cases; for the occurrence endpoints the fields the
# guide's "Data Analysis" examples use plus the gdc-models ssm_occurrence_centric /
# cnv_occurrence_centric mappings. Only the fields the pipeline's tests need are listed.
_CASE_OF_OCCURRENCE = {
    "case.case_id",
    "case.submitter_id",
    "case.project.project_id",
    "case.available_variation_data",  # documented here, on occurrences, not on /cases
}
DOCUMENTED: dict[str, set[str]] = {
    "files": {
        "file_id", "file_name", "md5sum", "file_size", "state", "access", "data_type",
        "data_category", "data_format", "analysis.workflow_type", "cases.case_id",
        "cases.submitter_id", "cases.project.project_id", "cases.samples.submitter_id",
        "cases.samples.sample_type",
    },
    "cases": {
        "case_id", "submitter_id", "project.project_id",
        *(f"demographic.{f}" for f in (
            "gender", "race", "ethnicity", "vital_status", "days_to_death", "year_of_birth")),
        *(f"diagnoses.{f}" for f in (
            "age_at_diagnosis", "primary_diagnosis", "tumor_grade", "morphology",
            "tissue_or_organ_of_origin", "days_to_last_follow_up", "classification_of_tumor",
            "diagnosis_is_primary_disease")),
    },
    "ssm_occurrences": {
        "ssm_occurrence_id", *_CASE_OF_OCCURRENCE, "ssm.ssm_id", "ssm.chromosome",
        "ssm.consequence.transcript.transcript_id", "ssm.consequence.transcript.gene.symbol",
        "ssm.consequence.transcript.aa_change", "ssm.consequence.transcript.is_canonical",
    },
    "cnv_occurrences": {
        "cnv_occurrence_id", *_CASE_OF_OCCURRENCE, "cnv.cnv_id", "cnv.cnv_change",
        "cnv.cnv_change_5_category", "cnv.chromosome", "cnv.start_position", "cnv.end_position",
        "cnv.gene_level_cn", "cnv.ncbi_build", "cnv.consequence.gene.gene_id",
        "cnv.consequence.gene.symbol",
    },
}  # fmt: skip
EXPANDABLE = {"cases": {"demographic", "diagnoses"}}  # the guide's expand example for /cases


class BadRequest(ValueError):
    """What the stand-in answers with HTTP 400."""


@dataclass
class FakeFile:
    """One ``/files`` document: the guide's "File Fields" (Appendix A), its ``cases`` nested."""

    file_id: str
    file_name: str
    body: Body
    case_id: str
    case_submitter_id: str
    sample_submitter_id: str
    sample_type: str = "Primary Tumor"
    project_id: str = "TCGA-LGG"
    data_type: str = "Gene Expression Quantification"
    workflow_type: str = "STAR - Counts"
    access: str = "open"

    def hit(self) -> dict[str, Any]:
        """The full ``/files`` document (projected to the asked fields when served)."""
        return {
            "id": self.file_id,
            "file_id": self.file_id,
            "file_name": self.file_name,
            "md5sum": self.body.md5,
            "file_size": self.body.size,
            "state": "released",
            "access": self.access,
            "data_type": self.data_type,
            "analysis": {"workflow_type": self.workflow_type},
            "cases": [
                {
                    "case_id": self.case_id,
                    "submitter_id": self.case_submitter_id,
                    "project": {"project_id": self.project_id},
                    "samples": [
                        {"submitter_id": self.sample_submitter_id, "sample_type": self.sample_type}
                    ],
                }
            ],
        }


def profile_file(k: int, barcode: str, data_type: str, project_id: str = "TCGA-LGG") -> FakeFile:
    """A case's ``Masked Somatic Mutation`` or ``Gene Level Copy Number`` file (tiny body)."""
    fid = str(uuid.UUID(int=(1 << 64) + k, version=4))
    workflow = {
        "Masked Somatic Mutation": "Aliquot Ensemble Somatic Variant Merging and Masking",
        "Gene Level Copy Number": "ASCAT3",
    }[data_type]
    return FakeFile(
        file_id=fid,
        file_name=f"{fid}.{'maf.gz' if 'Mutation' in data_type else 'gene_level_copy_number.tsv'}",
        body=Body(f"{barcode} {data_type}\n".encode()),
        case_id=f"uuid-{barcode}",
        case_submitter_id=barcode,
        sample_submitter_id=f"{barcode}-01A",
        project_id=project_id,
        data_type=data_type,
        workflow_type=workflow,
    )


def star_counts(k: int, genes: int = 600) -> bytes:
    """A small STAR-Counts-like TSV (about 40 KB)."""
    lines = ["# gene-model: GENCODE v36", "gene_id\tgene_name\tgene_type\tunstranded"]
    lines += [f"ENSG{g:011d}.{k}\tG{g}\tprotein_coding\t{(g * 7 + k) % 997}" for g in range(genes)]
    return ("\n".join(lines) + "\n").encode()


def fake_files(n: int, names: dict[int, str] | None = None) -> list[FakeFile]:
    """``n`` small STAR-Counts files with UUID ids; ``names`` overrides some file names."""
    names = names or {}
    files = []
    for k in range(n):
        fid = str(uuid.UUID(int=k + 1, version=4))
        files.append(
            FakeFile(
                file_id=fid,
                file_name=names.get(k, f"{fid}.rna_seq.augmented_star_gene_counts.tsv"),
                body=Body(star_counts(k)),
                case_id=str(uuid.UUID(int=1000 + k, version=4)),
                case_submitter_id=f"TCGA-CS-{4900 + k}",
                sample_submitter_id=f"TCGA-CS-{4900 + k}-01A",
            )
        )
    return files


def _copy(src: Any, dst: dict, parts: list[str]) -> None:
    """Copy the dotted path ``parts`` from ``src`` into ``dst`` (lists are walked)."""
    key = parts[0]
    if not isinstance(src, dict) or key not in src:
        return
    if len(parts) == 1:
        dst[key] = src[key]
    elif isinstance(src[key], list):
        items = dst.setdefault(key, [{} for _ in src[key]])
        for s, d in zip(src[key], items, strict=True):
            _copy(s, d, parts[1:])
    else:
        _copy(src[key], dst.setdefault(key, {}), parts[1:])


def leaves(doc: Any, prefix: str = "") -> set[str]:
    """The dotted paths of ``doc``'s leaf values (lists walked)."""
    if isinstance(doc, list):
        return {p for item in doc for p in leaves(item, prefix)}
    if isinstance(doc, dict) and doc:
        return {p for k, v in doc.items() for p in leaves(v, f"{prefix}{k}.")}
    return {prefix.rstrip(".")}


def check_documented(endpoint: str, docs: list[dict]) -> None:
    """Raise ``ValueError`` if a test put an undocumented field in a served document."""
    for doc in docs:
        extra = leaves({k: v for k, v in doc.items() if k != "id"}) - DOCUMENTED[endpoint]
        if extra:
            raise ValueError(f"fake GDC /{endpoint}: undocumented fields {sorted(extra)}")


def _known(endpoint: str, name: str, what: str) -> str:
    """``name`` without the ``<endpoint>.`` prefix; ``BadRequest`` if it is not documented."""
    field = name.removeprefix(f"{endpoint}.")
    documented = DOCUMENTED[endpoint]
    if field not in documented and not any(d.startswith(f"{field}.") for d in documented):
        raise BadRequest(f"/{endpoint}: unrecognized {what} field {name!r}")
    return field


def project(doc: dict, fields: str, expand: str) -> dict:
    """What the GDC returns for ``fields`` (comma-separated, dotted) and ``expand``."""
    out = {"id": doc["id"]}
    for name in filter(None, fields.split(",")):
        _copy(doc, out, name.split("."))
    for name in filter(None, expand.split(",")):
        if name in doc:
            out[name] = doc[name]
    return out


def field_values(doc: Any, parts: list[str]) -> list[Any]:
    """The leaf values at the dotted path ``parts`` in ``doc`` (lists walked and flattened)."""
    if isinstance(doc, list):
        return [v for item in doc for v in field_values(item, parts)]
    if not parts:
        return [doc]
    if not isinstance(doc, dict) or parts[0] not in doc:
        return []
    return field_values(doc[parts[0]], parts[1:])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return str(a) == str(b)


RANGE_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(doc: dict, filters: dict | None, endpoint: str = "") -> bool:
    """Whether ``doc`` passes GDC ``filters`` (fields may carry the ``<endpoint>.`` prefix)."""
    if not filters:
        return True
    op, content = filters["op"].lower(), filters["content"]
    if op == "and":
        return all(matches(doc, f, endpoint) for f in content)
    if op == "or":
        return any(matches(doc, f, endpoint) for f in content)
    field = content["field"].removeprefix(f"{endpoint}.") if endpoint else content["field"]
    values = field_values(doc, field.split("."))
    wanted = content.get("value")
    if op in RANGE_OPS:
        return any(RANGE_OPS[op](float(v), float(wanted)) for v in values if v is not None)
    wanted = wanted if isinstance(wanted, list) else [wanted]
    hit = any(_same(v, w) for v in values for w in wanted)
    if op in ("in", "="):
        return hit
    if op in ("!=", "exclude"):
        return not hit
    raise BadRequest(f"filter op {op!r} not supported")


def filter_fields(filters: dict | None) -> list[str]:
    """Every field a GDC filter names."""
    if not filters:
        return []
    if filters["op"].lower() in ("and", "or"):
        return [f for part in filters["content"] for f in filter_fields(part)]
    return [filters["content"]["field"]]


def _sort_key(value: Any) -> tuple:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def send_json(handler: BaseHTTPRequestHandler, code: int, payload: Any, headers=None) -> None:
    """Answer ``handler``'s request with ``payload`` as JSON (and extra ``headers``)."""
    blob = json.dumps(payload).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(blob)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(blob)


SEARCH_ENDPOINTS = ("files", "cases", "ssm_occurrences", "cnv_occurrences")


class BackgroundServer:
    """``self.server`` (an HTTP server) served from a daemon thread inside a ``with`` block."""

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FakeGDC(BackgroundServer):
    files: list[FakeFile]
    cases: list[dict] = field(default_factory=list)
    retry_after: str = "1"
    faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    api_faults: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    ssm_occurrences: list[dict] = field(default_factory=list)
    cnv_occurrences: list[dict] = field(default_factory=list)
    seed: int = 0  # of the random order of unsorted answers (a fresh one on every request)
    page_cap: int | None = None  # serve at most this many hits a page: tiny data, many pages

    def __post_init__(self) -> None:
        self.by_id = {f.file_id: f for f in self.files}
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def data_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith("/data/")]

    def search(self, endpoint: str, body: dict) -> dict:
        docs = {
            "files": lambda: [f.hit() for f in self.files],
            "cases": lambda: self.cases,
            "ssm_occurrences": lambda: self.ssm_occurrences,
            "cnv_occurrences": lambda: self.cnv_occurrences,
        }[endpoint]()
        check_documented(endpoint, docs)
        fields = [_known(endpoint, f, "fields") for f in body.get("fields", "").split(",") if f]
        for name in filter_fields(body.get("filters")):
            _known(endpoint, name, "filter")
        expand = [e for e in body.get("expand", "").split(",") if e]
        if set(expand) - EXPANDABLE.get(endpoint, set()):
            raise BadRequest(f"/{endpoint}: cannot expand {expand}")
        docs = [d for d in docs if matches(d, body.get("filters"), endpoint)]
        with self.lock:  # FEAT-120: no sort, no stable order
            docs = self.rng.sample(docs, len(docs))
        for part in reversed([p for p in str(body.get("sort", "")).split(",") if p]):
            name, _, direction = part.partition(":")
            path = _known(endpoint, name, "sort").split(".")
            docs.sort(
                key=lambda d, path=path: _sort_key(min(field_values(d, path), default="")),
                reverse=direction == "desc",
            )
        size, start = int(body.get("size", 10)), int(body.get("from", 0))
        size = min(size, self.page_cap or size)
        hits = [project(d, ",".join(fields), ",".join(expand)) for d in docs]
        page = hits[start : start + size]
        pagination = {
            "count": len(page),
            "total": len(hits),
            "size": size,
            "from": start,
            "sort": body.get("sort", ""),
            "page": start // size + 1,
            "pages": max(1, -(-len(hits) // size)),
        }
        return {"data": {"hits": page, "pagination": pagination}, "warnings": {}}


def _handler(gdc: FakeGDC) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _record(self, body: Any = None) -> None:
            with gdc.lock:
                gdc.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )

        def _json(self, code: int, payload: Any, headers: dict | None = None) -> None:
            send_json(self, code, payload, headers)

        def _fault(self, code: int) -> None:
            extra = {"Retry-After": gdc.retry_after} if code in (429, 503) else {}
            self._json(code, {"message": f"fault {code}"}, extra)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            self._record(body)
            endpoint = self.path.strip("/").split("?")[0]
            with gdc.lock:
                fault = gdc.api_faults.pop(0) if gdc.api_faults else None
            if fault:
                return self._fault(fault)
            if endpoint not in SEARCH_ENDPOINTS:
                return self._json(404, {"message": f"no endpoint {endpoint}"})
            try:
                answer = gdc.search(endpoint, body)
            except BadRequest as err:
                return self._json(400, {"message": str(err)})
            self._json(200, answer)

        def do_GET(self) -> None:
            self._record()
            if self.path == "/status":
                return self._json(
                    200,
                    {
                        "status": "OK",
                        "data_release": "Data Release 41.0",
                        "version": 1,
                        "tag": "fake",
                        "commit": "0",
                    },
                )
            if not self.path.startswith("/data/"):
                return self._json(404, {"message": "not found"})
            file = gdc.by_id.get(self.path.removeprefix("/data/"))
            if file is None:
                return self._json(404, {"message": "file not found"})
            with gdc.lock:
                queue = gdc.faults[file.file_id]
                fault = queue.pop(0) if queue else None
            if fault in ("429", "503"):
                return self._fault(int(fault))
            self._send_file(file, fault)

        def _send_file(self, file: FakeFile, fault: str | None) -> None:
            size, start = file.body.size, 0
            rng = self.headers.get("Range")
            if rng and fault != "ignore_range":
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= size:
                    return self._json(416, {"message": "range not satisfiable"})
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Disposition", f"attachment; filename={file.file_name}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(size - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            stop = start + (size - start) // 2 if fault == "drop" else size
            for pos in range(start, stop, 1 << 18):
                chunk = file.body.slice(pos, min(stop, pos + (1 << 18)))
                if fault == "corrupt" and pos == start:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                self.wfile.write(chunk)
            if fault == "drop":  # the connection dies half-way through the body
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

    return Handler
