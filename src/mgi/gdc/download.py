"""Fetch files from ``/data/{file_id}``: resumable, verified, parallel, never outside ``out``.

Each file streams into ``<out>/<file_id>/<file_name>.partial``; a dropped connection resumes with
``Range: bytes=<have>-`` (the GDC answers 206 + ``Content-Range``); the size and md5 are checked
before an atomic rename. urllib3 ``Retry`` cannot resume a body that broke half-way (it only
replays whole requests), so this retry loop is written here: 429 waits ``Retry-After``, 5xx,
connection errors and timeouts back off exponentially, a wrong md5 discards the bytes, and after
``policy.tries`` tries the error names the file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import requests
from tqdm import tqdm
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from mgi.checksum import md5_of
from mgi.gdc.client import RETRY_STATUS, GDCClient
from mgi.gdc.query import UUID, FileRecord

log = logging.getLogger(__name__)

NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Retryable(Exception):
    """One try failed in a way worth retrying; ``wait`` (seconds) overrides the back-off."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class _Progress:
    """One thread-safe byte counter over a tqdm bar (or nothing)."""

    def __init__(self, bar: tqdm | None = None) -> None:
        self.bar, self.lock = bar, threading.Lock()

    def update(self, n: int) -> None:
        if self.bar is not None and n:
            with self.lock:
                self.bar.update(n)


def verified(path: Path, record: FileRecord) -> bool:
    """Whether ``path`` has ``record``'s size and md5."""
    return path.stat().st_size == record.file_size and md5_of(path) == record.md5sum


def target_path(out: str | Path, record: FileRecord) -> Path:
    """``<out>/<file_id>/<file_name>``; refuses anything that would land outside ``out``."""
    out = Path(out).resolve()
    if not UUID.match(record.file_id) or "/" in record.file_name or record.file_name in ("", ".."):
        raise ValueError(f"{out}: unsafe GDC file path {record.file_id}/{record.file_name!r}")
    path = (out / record.file_id / record.file_name).resolve()
    if not path.is_relative_to(out) or path.parent == out:
        raise ValueError(f"{out}: GDC file path {path} escapes the download folder")
    return path


def _check_status(response: requests.Response, record: FileRecord, offset: int) -> None:
    """Raise :class:`_Retryable` or ``RuntimeError`` unless the answer carries our bytes."""
    code = response.status_code
    if code in RETRY_STATUS:
        wait = None
        if response.headers.get("Retry-After"):
            try:
                wait = Retry().parse_retry_after(response.headers["Retry-After"])
            except InvalidHeader:
                wait = None
        raise _Retryable(f"HTTP {code}", wait)
    if code == 416:  # our partial is not a prefix the server knows: start again
        raise _Retryable("HTTP 416 (range not satisfiable); restarting")
    if code not in (200, 206):
        raise RuntimeError(
            f"{record.file_id}/{record.file_name}: HTTP {code} from {response.url} "
            f"({response.text[:200]!r})"
        )
    if code == 206:
        content_range = response.headers.get("Content-Range", "")
        start = content_range.removeprefix("bytes ").split("-", 1)[0]
        if start != str(offset):
            raise _Retryable(f"asked for bytes {offset}- but got Content-Range {content_range!r}")


def _stream_once(client: GDCClient, record: FileRecord, partial: Path, progress: _Progress) -> None:
    """One GET of the bytes ``partial`` still lacks, appended to it."""
    offset = partial.stat().st_size if partial.exists() else 0
    if offset > record.file_size:
        partial.unlink()
        progress.update(-offset)
        offset = 0
    if offset == record.file_size and offset > 0:
        return
    try:
        with client.open_data(record.file_id, offset) as response:
            try:
                _check_status(response, record, offset)
            except _Retryable:
                if response.status_code in (206, 416):
                    partial.unlink(missing_ok=True)
                    progress.update(-offset)
                raise
            if offset and response.status_code == 200:
                log.warning("%s: server ignored Range; restarting", record.file_id)
                progress.update(-offset)
                offset = 0
            with open(partial, "ab" if offset else "wb") as fh:
                for chunk in response.iter_content(client.policy.chunk_bytes):
                    fh.write(chunk)
                    progress.update(len(chunk))
    except NETWORK_ERRORS as err:
        raise _Retryable(f"{type(err).__name__}: {err}") from err


def _finish(record: FileRecord, partial: Path, dest: Path, progress: _Progress) -> None:
    """Check size and md5 of a complete ``partial`` and rename it onto ``dest``."""
    size = partial.stat().st_size if partial.exists() else 0
    if size < record.file_size:
        raise _Retryable(f"short body: {size} of {record.file_size} bytes")
    digest = md5_of(partial)
    if size != record.file_size or digest != record.md5sum:
        partial.unlink()
        progress.update(-size)
        raise _Retryable(
            f"{size} bytes with md5 {digest}, expected {record.file_size} / {record.md5sum}; "
            "discarded"
        )
    os.replace(partial, dest)


def download_file(
    client: GDCClient,
    record: FileRecord,
    out: str | Path,
    *,
    progress: _Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Fetch one file into ``<out>/<file_id>/<file_name>``; ``False`` if it already verified."""
    progress = progress or _Progress()
    dest = target_path(out, record)
    if dest.is_file():
        if verified(dest, record):
            progress.update(record.file_size)
            return False
        log.warning("%s: size or md5 wrong; fetching again", dest)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    policy, label = client.policy, f"{record.file_id}/{record.file_name}"
    for attempt in range(policy.tries):
        try:
            _stream_once(client, record, partial, progress)
            _finish(record, partial, dest, progress)
            return True
        except _Retryable as err:
            if attempt + 1 == policy.tries:
                raise RuntimeError(
                    f"{label}: not verified after {policy.tries} tries; last error: {err}"
                ) from err
            wait = policy.wait(attempt) if err.wait is None else min(err.wait, policy.max_wait)
            log.warning(
                "%s: try %d/%d: %s; retry in %.2fs", label, attempt + 1, policy.tries, err, wait
            )
            sleep(wait)
    raise AssertionError("unreachable")


def download_all(
    client: GDCClient,
    records: Sequence[FileRecord],
    out: str | Path,
    *,
    processes: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Fetch every file with ``processes`` threads and one progress bar; number fetched.

    Raises ``RuntimeError`` naming the failed files if any file is not verified at the end.
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    fetched, failures = 0, []
    total = sum(r.file_size for r in records)
    with (
        tqdm(total=total, unit="B", unit_scale=True, desc="GDC download") as bar,
        ThreadPoolExecutor(max_workers=processes) as pool,
    ):
        progress = _Progress(bar)
        jobs = {
            pool.submit(download_file, client, r, out, progress=progress, sleep=sleep): r
            for r in records
        }
        for job in as_completed(jobs):
            try:
                fetched += job.result()
            except (RuntimeError, ValueError) as err:
                log.error("%s", err)
                failures.append(str(err))
    log.info(
        "GDC: %d files fetched, %d already verified, %d failed",
        fetched,
        len(records) - fetched - len(failures),
        len(failures),
    )
    if failures:
        raise RuntimeError(
            f"{out}: {len(failures)} of {len(records)} GDC files not verified: "
            + "; ".join(failures[:5])
        )
    return fetched
