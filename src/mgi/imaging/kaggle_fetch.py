"""Fetch kaggle_3m (``mateuszbuda/lgg-mri-segmentation``) with Kaggle's official client.

``kagglehub`` downloads the pinned version's archive into its cache (here ``<dest>/.kagglehub``
through ``KAGGLEHUB_CACHE``, so nothing lands in the home folder), resumes a broken download with
HTTP ``Range`` and checks the md5 the storage server sends. It raises on a 429/5xx from the API,
on a connection dropped mid-archive and on an md5 mismatch: :func:`fetch_kaggle_3m` retries
those with back-off (the next try resumes), and stops at once on 404/401/403 with a message
naming the dataset. The extracted ``kaggle_3m/`` is verified in the cache and only then renamed
to ``<dest>/kaggle_3m``, so the next stage never sees a half-extracted folder; a folder already
there, fetched from the same dataset version (its ``source.json``) and verified, is kept and
nothing is fetched.

Public datasets need no account; ``KAGGLE_USERNAME``/``KAGGLE_KEY`` or ``~/.kaggle/kaggle.json``
are used when present and never logged. Tests point the client at a local server with
``KAGGLE_API_ENVIRONMENT=TEST`` (``http://localhost:7777``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from mgi.atomic import atomic_path
from mgi.gdc.client import RetryPolicy, describe, is_connection_failure
from mgi.imaging.kaggle_verify import FOLDER, PATIENTS, find_kaggle_3m, verify_kaggle_3m

log = logging.getLogger(__name__)

DATASET = "mateuszbuda/lgg-mri-segmentation"
VERSION = 2
LICENCE = (
    "kaggle_3m (Buda et al., 2019; TCGA-LGG FLAIR from TCIA) is licensed CC BY-NC-SA 4.0: "
    "non-commercial use, share alike, cite https://doi.org/10.1016/j.compbiomed.2019.05.002"
)
RECORD = "source.json"  # written into the fetched folder: what was fetched, from where
RETRY_STATUS = {429, 500, 502, 503, 504}


class KaggleFetchError(RuntimeError):
    """The dataset could not be fetched (the message names the dataset and the cause)."""


@dataclass(frozen=True)
class KaggleSource:
    """Which Kaggle dataset version to fetch and how many patients it must hold."""

    dataset: str = DATASET  # owner/slug
    version: int = VERSION  # pinned dataset version
    patients: int | None = PATIENTS  # patient folders expected (None: any number)

    @property
    def handle(self) -> str:
        return f"{self.dataset}/versions/{self.version}"


def fetch_kaggle_3m(
    dest: str | Path,
    source: KaggleSource = KaggleSource(),
    *,
    policy: RetryPolicy | None = None,
) -> Path:
    """``<dest>/kaggle_3m``, verified; downloaded only if it is not there already."""
    dest = Path(dest).resolve()
    out = dest / FOLDER
    if out.is_dir() and _fetched_from(out) == (source.dataset, source.version):
        try:
            verify_kaggle_3m(out, patients=source.patients)
            log.info("%s is there and verified: nothing fetched", out)
            return out
        except (OSError, ValueError) as err:
            log.warning("%s does not verify (%s): fetching it again", out, err)
    log.info(LICENCE)
    log.info("fetching %s from Kaggle (%s)", source.handle, _credentials_note())
    cache = dest / ".kagglehub"
    try:
        tree = download(source, cache, policy or RetryPolicy())
    except BaseException:
        prune_empty(cache)  # kagglehub makes its folders before the first byte arrives
        raise
    try:
        root = find_kaggle_3m(tree)
        summary = verify_kaggle_3m(root, patients=source.patients)
    except (FileNotFoundError, ValueError) as err:  # the archive itself: a retry would not help
        raise type(err)(f"{err} (the download stays in {cache}; delete it to fetch anew)") from None
    record = {**asdict(source), "licence": "CC BY-NC-SA 4.0", "slices": summary.slices}
    (root / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    with atomic_path(out, directory=True) as tmp:
        os.replace(root, tmp)  # a rename on one file system: the folder appears whole
    shutil.rmtree(tree, ignore_errors=True)  # the archive's second copy and its other files
    log.info("%s: %d patients, %d slices", out, summary.patients, summary.slices)
    return out


def download(source: KaggleSource, cache: Path, policy: RetryPolicy) -> Path:
    """The dataset version extracted by kagglehub under ``cache``, retried with back-off."""
    import kagglehub
    from kagglehub.exceptions import DataCorruptionError, KaggleApiHTTPError

    # kagglehub prints its records to stdout through a handler of its own; they reach the run's
    # log through the root logger like every library's, so that handler is dropped.
    logging.getLogger("kagglehub").handlers.clear()
    refused = 0  # connection-level failures: only policy.connect_tries, short waits
    for attempt in range(policy.tries):
        resumes = True
        try:
            with _env("KAGGLEHUB_CACHE", str(cache)):
                return Path(kagglehub.dataset_download(source.handle))
        except KaggleApiHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status not in RETRY_STATUS:
                raise KaggleFetchError(_refusal(source, status)) from None
            wait = _retry_after(err.response) or policy.wait(attempt)
            problem = f"HTTP {status}"
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            DataCorruptionError,
        ) as err:
            wait = policy.wait(attempt)
            problem = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if is_connection_failure(err):  # nothing was fetched: nothing to resume
                refused += 1
                resumes, problem = False, describe(err)
                wait = min(wait, 2.0)
                if refused == policy.connect_tries:
                    raise KaggleFetchError(
                        f"Kaggle {source.handle}: gave up after {refused} tries ({problem}; "
                        "is the network or proxy reachable?)"
                    ) from None
        if attempt + 1 == policy.tries:
            raise KaggleFetchError(
                f"Kaggle {source.handle}: gave up after {policy.tries} tries ({problem})"
            )
        log.warning(
            "Kaggle %s: %s; try %d of %d in %.1f s (%s)",
            source.handle,
            problem,
            attempt + 2,
            policy.tries,
            min(wait, policy.max_wait),
            "resuming" if resumes else "retrying",
        )
        time.sleep(min(wait, policy.max_wait))
    raise AssertionError("unreachable")


def prune_empty(folder: Path) -> None:
    """Remove the empty folders under ``folder`` (and it, if empty); files are kept."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True) + [folder]:
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds when empty


def _fetched_from(folder: Path) -> tuple[str, int] | None:
    """(dataset, version) of a folder this module fetched, from its record."""
    try:
        record = json.loads((folder / RECORD).read_text())
        return record["dataset"], record["version"]
    except (OSError, ValueError, KeyError):
        return None


def _refusal(source: KaggleSource, status: int | None) -> str:
    if status == 404:
        return (
            f"Kaggle dataset {source.dataset} version {source.version} not found (HTTP 404): "
            "check imaging.kaggle.dataset and imaging.kaggle.version"
        )
    if status in (401, 403):
        return (
            f"Kaggle refused {source.handle} (HTTP {status}): set KAGGLE_USERNAME/KAGGLE_KEY or "
            "~/.kaggle/kaggle.json, and accept the dataset's terms on kaggle.com if it asks"
        )
    return f"Kaggle {source.handle}: HTTP {status}"


def _retry_after(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _credentials_note() -> str:
    from kagglehub.config import get_kaggle_credentials

    if get_kaggle_credentials() is None:
        return "anonymous: a public dataset needs no account"
    return "with the Kaggle credentials found in the environment or ~/.kaggle (not logged)"


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set the environment variable ``name`` for the duration of the block."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
