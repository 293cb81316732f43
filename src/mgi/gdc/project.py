"""One call per pipeline step: a project's RNA-seq, its clinical table, its molecular markers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgi.gdc.cases import clinical_table, write_clinical
from mgi.gdc.client import DEFAULT_API_URL, GDCClient, RetryPolicy, read_token
from mgi.gdc.download import download_all
from mgi.gdc.markers import markers_table, write_markers
from mgi.gdc.query import FileRecord, project_files, write_tables

log = logging.getLogger(__name__)


def download_project(
    out: str | Path,
    *,
    project: str = "TCGA-LGG",
    api_url: str = DEFAULT_API_URL,
    processes: int = 4,
    token_file: str | Path | None = None,
    policy: RetryPolicy | None = None,
    page_size: int = 500,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FileRecord]:
    """Download ``project``'s open STAR-Counts files into ``out`` and write the tables.

    Writes ``<out>/<file_id>/<file_name>`` for every file, then ``<out>/files.tsv`` and
    ``<out>/manifest.tsv`` only once every file has verified (so their presence means complete).
    Files already present and verified are not fetched again. Raises ``RuntimeError`` naming
    the files that could not be verified.
    """
    client = GDCClient(api_url, token=read_token(token_file), policy=policy)
    log.info("GDC %s: %s", client.api_url, client.status().get("data_release", "OK"))
    records = project_files(client, project, page_size=page_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fetched = download_all(client, records, out, processes=processes, sleep=sleep)
    write_tables(records, out)
    log.info("GDC %s: %d files in %s (%d fetched now)", project, len(records), out, fetched)
    return records


def api_options(gdc: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the ``download_*`` functions from config ``gdc:`` (project, API,
    token, retry policy): one mapping for every GDC rule."""
    return {
        "project": gdc["project"],
        "api_url": gdc["api_url"],
        "token_file": gdc["token_file"],
        "policy": RetryPolicy(tries=gdc["retries"], timeout=gdc["timeout"]),
    }


def download_clinical(
    out: str | Path,
    *,
    project: str = "TCGA-LGG",
    api_url: str = DEFAULT_API_URL,
    token_file: str | Path | None = None,
    policy: RetryPolicy | None = None,
    page_size: int = 500,
) -> Path:
    """Write ``project``'s clinical table (``/cases``, demographic + diagnoses) to ``out``."""
    client = GDCClient(api_url, token=read_token(token_file), policy=policy)
    return write_clinical(clinical_table(client, project, page_size=page_size), out)


def download_markers(
    out: str | Path,
    *,
    project: str = "TCGA-LGG",
    api_url: str = DEFAULT_API_URL,
    token_file: str | Path | None = None,
    policy: RetryPolicy | None = None,
    threshold: float = 0.8,
    page_size: int = 2000,
    case_batch: int = 5,
) -> Path:
    """Write ``project``'s IDH and 1p/19q markers (``/ssm_occurrences``, ``/cnv_occurrences``).

    One row per case; ``codeleted`` when at least ``threshold`` of the genes of both 1p and 19q
    are lost (see :mod:`mgi.gdc.markers`).
    """
    client = GDCClient(api_url, token=read_token(token_file), policy=policy)
    table = markers_table(
        client, project, threshold=threshold, page_size=page_size, case_batch=case_batch
    )
    return write_markers(table, out)
