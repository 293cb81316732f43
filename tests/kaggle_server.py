"""A local stand-in for Kaggle's dataset download on 127.0.0.1, as kagglehub/kagglesdk call it.

kagglesdk ``POST``s ``/api/v1/datasets.DatasetApiService/DownloadDataset`` with JSON
``{ownerSlug, datasetSlug, datasetVersionNumber, raw}`` and follows the ``302`` to the storage
URL; the archive is answered with ``Content-Length``, ``Accept-Ranges: bytes`` (``206`` +
``Content-Range`` for a ``Range`` request) and ``x-goog-hash: crc32c=…,md5=<base64>``, whose md5
kagglehub checks. Errors are JSON ``{"code", "message"}`` as Kaggle sends them.

How the client gets here: with ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` kagglesdk calls
``http://localhost/api/v1/…``, and ``HTTP_PROXY`` (see :meth:`FakeKaggle.env`) sends every
``http://`` request to this server, which answers as that host. (``TEST`` would call
``localhost:7777`` but also makes kagglesdk print and read every response body whole, so a
dropped archive would never leave a partial download to resume.)

Faults: ``api_faults`` (status codes for the API call, e.g. 503, 429) and ``archive_faults``
(``"drop"`` = close the connection half-way through the body, ``"corrupt"`` = flip a byte,
``"503"``), each consumed in order. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from gdc_server import BackgroundServer, send_json

API = "/api/v1/datasets.DatasetApiService/DownloadDataset"
COPIES = ("kaggle_3m", "lgg-mri-segmentation/kaggle_3m")  # the archive holds the set twice
HEADER = (
    "Patient,RNASeqCluster,MethylationCluster,miRNACluster,CNCluster,RPPACluster,"
    "OncosignCluster,COCCluster,histological_type,neoplasm_histologic_grade,tumor_tissue_site,"
    "laterality,tumor_location,gender,age_at_initial_pathologic,race,ethnicity,death01"
)


def _tiff(array: np.ndarray) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, array)
    return buf.getvalue()


def kaggle_3m_files(folders: list[str], *, slices: int = 3, size: int = 32) -> dict[str, bytes]:
    """A small kaggle_3m set (relative path -> bytes): per folder ``slices`` H x W x 3 slices
    with masks (tumour in the middle slice), and a ``data.csv`` row per patient."""
    rng = np.random.default_rng(0)
    files: dict[str, bytes] = {}
    rows = [HEADER]
    for k, folder in enumerate(folders):
        for n in range(1, slices + 1):
            image = rng.integers(0, 200, (size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), np.uint8)
            if n == (slices + 1) // 2:
                mask[size // 4 : size // 2, size // 4 : size // 2] = 255
            files[f"{folder}/{folder}_{n}.tif"] = _tiff(image)
            files[f"{folder}/{folder}_{n}_mask.tif"] = _tiff(mask)
        patient = "_".join(folder.split("_")[:3])
        rows.append(
            f"{patient},{1 + k % 3},{1 + k % 4},2,1,,2,{1 + k % 2},1,{2 + k % 2},1,3,2,1,44,3,2,0"
        )
    files["data.csv"] = ("\n".join(rows) + "\n").encode()
    return files


def files_from_folder(root: Path, *, slices: int = 4) -> dict[str, bytes]:
    """The middle ``slices`` slices (and masks) of each patient folder of a real kaggle_3m
    sample (where the tumour is), and its ``data.csv`` trimmed to those patients."""
    files: dict[str, bytes] = {}
    patients = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        patients.append("_".join(folder.name.split("_")[:3]))
        middle = len(list(folder.glob("*_mask.tif"))) // 2
        for n in range(middle - slices // 2, middle - slices // 2 + slices):
            for name in (f"{folder.name}_{n}.tif", f"{folder.name}_{n}_mask.tif"):
                files[f"{folder.name}/{name}"] = (folder / name).read_bytes()
    lines = (root / "data.csv").read_text().splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if line.split(",")[0] in patients]
    files["data.csv"] = ("\n".join(keep) + "\n").encode()
    return files


def archive(
    files: dict[str, bytes], copies: tuple[str, ...] = COPIES, *, pad: int = 3 << 20
) -> bytes:
    """A zip in Kaggle's layout: ``files`` under each of ``copies``, plus ``pad`` random bytes
    (kagglehub writes 1 MiB chunks: a connection dropped half-way through a bigger archive
    leaves a partial download to resume)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for prefix in copies:
            for name, data in files.items():
                zf.writestr(f"{prefix}/{name}", data)
        if pad:
            noise = np.random.default_rng(1).integers(0, 256, pad, np.uint8).tobytes()
            zf.writestr("padding.bin", noise, zipfile.ZIP_STORED)
    return buf.getvalue()


@dataclass
class FakeKaggle(BackgroundServer):
    archive: bytes
    dataset: str = "mateuszbuda/lgg-mri-segmentation"
    version: int = 2
    api_faults: list[int] = field(default_factory=list)
    archive_faults: list[str] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.md5 = base64.b64encode(hashlib.md5(self.archive).digest()).decode()
        self.lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.proxy = f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment that sends kagglehub's calls (to ``http://localhost``) here; requests to
        ``127.0.0.1`` (the other local stand-ins) go straight to their servers."""
        return {
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
            "HTTP_PROXY": self.proxy,
            "http_proxy": self.proxy,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
            "KAGGLE_CONFIG_DIR": "/nonexistent",  # no credentials from the home folder
        }

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # a client that hung up: fine
        pass


def _handler(kaggle: FakeKaggle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _record(self, path: str, body=None) -> None:
            with kaggle.lock:
                kaggle.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "body": body,
                        "range": self.headers.get("Range"),
                    }
                )

        def _json(self, code: int, payload: dict, headers: dict | None = None) -> None:
            send_json(self, code, payload, headers)

        def _error(self, code: int, message: str) -> None:
            self._json(code, {"code": code, "message": message}, {"Retry-After": "0"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            self._record(path, body)
            with kaggle.lock:
                fault = kaggle.api_faults.pop(0) if kaggle.api_faults else None
            if fault:
                return self._error(fault, f"fault {fault}")
            if path != API:
                return self._error(404, f"no endpoint {path}")
            owner, slug = kaggle.dataset.split("/")
            asked = (
                body.get("ownerSlug"),
                body.get("datasetSlug"),
                body.get("datasetVersionNumber"),
            )
            if asked != (owner, slug, kaggle.version):
                return self._error(404, f"dataset not found: {asked}")
            self.send_response(302)
            self.send_header("Location", f"http://localhost/storage/{kaggle.dataset}/archive.zip")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            self._record(path)
            if not path.startswith("/storage/"):
                return self._error(404, "not found")
            with kaggle.lock:
                fault = kaggle.archive_faults.pop(0) if kaggle.archive_faults else None
            if fault == "503":
                return self._error(503, "storage busy")
            self._send_archive(fault)

        def _send_archive(self, fault: str | None) -> None:
            data, start = kaggle.archive, 0
            rng = self.headers.get("Range")
            if rng:
                start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("x-goog-hash", f"crc32c=AAAAAA==,md5={kaggle.md5}")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            body = data[start:]
            if fault == "corrupt":
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            try:
                if fault == "drop":  # the connection dies half-way through the body
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
