"""A small client for the GDC API (https://docs.gdc.cancer.gov/API/Users_Guide/).

Search endpoints (``/files``, ``/cases``) take a JSON body by POST (``filters``, ``fields``,
``expand``, ``format``, ``size``, ``from``) and answer
``{"data": {"hits": [...], "pagination": {count, total, size, from, page, pages, sort}},
"warnings": {}}``. API calls retry on 429/5xx and connection errors through urllib3 ``Retry``
(which honours ``Retry-After``); file bodies from ``/data/{file_id}`` are fetched by
:mod:`mgi.gdc.download`, which resumes them with ``Range``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.gdc.cancer.gov"
RETRY_STATUS = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try against a flaky network (both API calls and file downloads)."""

    tries: int = 8  # attempts per request / per file before giving up
    backoff: float = 1.0  # first back-off in seconds; doubles per failed try
    max_wait: float = 120.0  # longest single wait (caps back-off and Retry-After)
    timeout: float = 60.0  # connect and read timeout in seconds
    chunk_bytes: int = 1 << 20  # streaming chunk size for downloads

    def __post_init__(self) -> None:
        if self.tries < 1 or self.backoff < 0 or self.timeout <= 0 or self.chunk_bytes < 1:
            raise ValueError(f"invalid GDC retry policy: {self}")

    def wait(self, attempt: int) -> float:
        """Back-off before try ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.max_wait, self.backoff * 2**attempt)


def read_token(token_file: str | Path | None) -> str | None:
    """The GDC token in ``token_file`` (stripped), or ``None``. The token is never logged."""
    if token_file is None:
        return None
    path = Path(token_file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GDC token file not found")
    token = path.read_text().strip()
    if not token:
        raise ValueError(f"{path}: GDC token file is empty")
    log.info("using the GDC token in %s", path)
    return token


class GDCClient:
    """Search the GDC API and open ``/data`` streams; one instance is shared by threads."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        token: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise ValueError(f"GDC api_url must start with http:// or https://, got {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._token = token
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the token
        return f"GDCClient({self.api_url!r}, token={'set' if self._token else 'none'})"

    def _session(self, *, retries: bool) -> requests.Session:
        """A per-thread session (requests sessions are not thread-safe)."""
        key = "api" if retries else "data"
        session = getattr(self._local, key, None)
        if session is None:
            session = requests.Session()
            if retries:
                retry = Retry(
                    total=self.policy.tries - 1,
                    backoff_factor=self.policy.backoff,
                    backoff_max=self.policy.max_wait,
                    status_forcelist=RETRY_STATUS,
                    allowed_methods=frozenset({"GET", "POST"}),
                    respect_retry_after_header=True,
                    raise_on_status=False,
                )
                session.mount("http://", HTTPAdapter(max_retries=retry))
                session.mount("https://", HTTPAdapter(max_retries=retry))
            session.headers["User-Agent"] = "mgi-pipeline"
            if self._token:
                session.headers["X-Auth-Token"] = self._token
            setattr(self._local, key, session)
        return session

    def _check(self, response: requests.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise RuntimeError(
                f"GDC {what}: HTTP {response.status_code} from {response.url}: "
                f"{response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as err:
            raise RuntimeError(f"GDC {what}: answer from {response.url} is not JSON") from err

    def status(self) -> dict[str, Any]:
        """``GET /status``: API version, data release, ``status: OK``."""
        url = f"{self.api_url}/status"
        answer = self._check(self._session(retries=True).get(url, timeout=self.policy.timeout), url)
        log.info("GDC %s: %s", self.api_url, answer.get("data_release", answer.get("status")))
        return answer

    def search(
        self,
        endpoint: str,
        filters: dict[str, Any],
        fields: list[str],
        *,
        expand: list[str] | None = None,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of a search on ``endpoint`` (``files``/``cases``), page by page."""
        url = f"{self.api_url}/{endpoint}"
        body: dict[str, Any] = {
            "filters": filters,
            "fields": ",".join(fields),
            "format": "json",
            "size": page_size,
        }
        if expand:
            body["expand"] = ",".join(expand)
        start, page, pages = 0, 0, 1
        while page < pages:
            body["from"] = start
            response = self._session(retries=True).post(url, json=body, timeout=self.policy.timeout)
            answer = self._check(response, f"/{endpoint} search")
            try:
                hits = answer["data"]["hits"]
                pagination = answer["data"]["pagination"]
                page, pages = int(pagination["page"]), int(pagination["pages"])
            except (KeyError, TypeError, ValueError) as err:
                raise RuntimeError(f"GDC {url}: unexpected search answer ({err!r})") from err
            if answer.get("warnings"):
                log.warning("GDC /%s warnings: %s", endpoint, answer["warnings"])
            log.debug("GDC /%s page %d/%d: %d hits", endpoint, page, pages, len(hits))
            yield from hits
            if not hits:
                break
            start += len(hits)

    def open_data(self, file_id: str, offset: int = 0) -> requests.Response:
        """``GET /data/{file_id}`` as a stream, from byte ``offset`` (a ``Range`` request).

        No automatic retries here: :func:`mgi.gdc.download.download_file` retries and resumes.
        """
        headers = {"Accept-Encoding": "identity"}  # byte offsets must mean file bytes
        if offset:
            headers["Range"] = f"bytes={offset}-"
        return self._session(retries=False).get(
            f"{self.api_url}/data/{file_id}",
            headers=headers,
            stream=True,
            timeout=self.policy.timeout,
        )
