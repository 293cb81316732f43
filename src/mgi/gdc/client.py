"""A small client for the GDC API (https://docs.gdc.cancer.gov/API/Users_Guide/).

Search endpoints (``/files``, ``/cases``) take a JSON body by POST (``filters``, ``fields``,
``expand``, ``format``, ``size``, ``from``) and answer
``{"data": {"hits": [...], "pagination": {count, total, size, from, page, pages, sort}},
"warnings": {}}``. Every search sends ``sort`` on a unique key (``file_id:asc``, the guide's
``sort=<field>:asc`` syntax): the API release notes' known issue FEAT-120 says unsorted results
may come back in a different order on every request, which drops or repeats hits across pages.

API calls retry through urllib3 ``Retry``: 429/5xx on the long schedule of :class:`RetryPolicy`
(``Retry-After`` honoured); a refused connection, a failed DNS lookup or a TLS error only
``connect_tries`` times with short waits and a ``connect_timeout``, so an unreachable API fails
within ~20 s with :class:`GDCError` naming the URL and the cause. File bodies from
``/data/{file_id}`` are fetched by :mod:`mgi.gdc.download`, which resumes them with ``Range``.
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
    timeout: float = 60.0  # read timeout in seconds
    chunk_bytes: int = 1 << 20  # streaming chunk size for downloads
    connect_tries: int = 3  # tries on a refused connection, DNS or TLS failure (short waits)
    connect_timeout: float = 5.0  # seconds to open a connection (capped by ``timeout``)

    def __post_init__(self) -> None:
        if (
            self.tries < 1
            or self.connect_tries < 1
            or self.backoff < 0
            or self.timeout <= 0
            or self.connect_timeout <= 0
            or self.chunk_bytes < 1
        ):
            raise ValueError(f"invalid GDC retry policy: {self}")

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts for requests."""
        return min(self.connect_timeout, self.timeout), self.timeout

    def wait(self, attempt: int) -> float:
        """Back-off before try ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.max_wait, self.backoff * 2**attempt)


class GDCError(RuntimeError):
    """The GDC API could not be reached or answered an error (the message names URL and cause)."""


class _Retry(Retry):
    """urllib3 ``Retry`` whose retries are logged by us: connection-level ones at debug level
    (they are brief), HTTP 429/5xx at warning level (they can wait minutes)."""

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        new = super().increment(method, url, response, error, *args, **kwargs)
        cause = f"HTTP {response.status}" if response is not None else describe(error)
        level = logging.WARNING if response is not None else logging.DEBUG
        log.log(level, "GDC %s: %s; retrying (%d so far)", url, cause, len(new.history))
        return new


class _QuietRetries(logging.Filter):
    """Drops urllib3's own "Retrying (...)" warnings: :class:`_Retry` logs them readably."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying (")


logging.getLogger("urllib3.connectionpool").addFilter(_QuietRetries())


def _chain(err: BaseException | None) -> list[BaseException]:
    """``err`` and the errors it wraps (urllib3 ``reason``, exception args, causes)."""
    out: list[BaseException] = []
    todo = [err]
    while todo:
        one = todo.pop(0)
        if not isinstance(one, BaseException) or any(one is seen for seen in out):
            continue
        out.append(one)
        todo += [getattr(one, "reason", None), *one.args, one.__cause__, one.__context__]
    return out


def describe(err: BaseException | None) -> str:
    """A short cause for a network error: refused, DNS, TLS, timeout, else the innermost one."""
    chain = _chain(err)
    if not chain:
        return "unknown error"
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(str(e) for e in chain)
    lower = text.lower()
    if "NameResolution" in names or "name or service not known" in lower or "resolve" in lower:
        return "DNS lookup failed"
    if "refused" in lower:
        return "connection refused"
    if "SSL" in names or "certificate" in lower or "ssl" in lower:
        inner = next((e for e in reversed(chain) if "SSL" in type(e).__name__), chain[-1])
        return f"TLS error ({' '.join(str(inner).split())[:200]})"
    if "Timeout" in names or "timed out" in lower:
        return "timed out"
    inner = chain[-1]
    return f"{type(inner).__name__}: {' '.join(str(inner).split())[:200]}"


def is_connection_failure(err: BaseException) -> bool:
    """Whether ``err`` is a refused connection, a failed DNS lookup or a TLS error (not a
    connection that broke half-way through an answer)."""
    return describe(err).startswith(("connection refused", "DNS lookup", "TLS error"))


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
                connect = self.policy.connect_tries - 1
                retry = _Retry(
                    total=self.policy.tries - 1,
                    connect=connect,  # refused, DNS, connect timeout
                    other=connect,  # TLS errors
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

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One API call with retries; network failures become :class:`GDCError`."""
        try:
            return self._session(retries=True).request(
                method, url, timeout=self.policy.timeouts, **kwargs
            )
        except requests.RequestException as err:
            where = f"{method} {url.removeprefix(self.api_url)}"
            tries = f"{min(self.policy.tries, self.policy.connect_tries)} tries"
            raise GDCError(
                f"GDC API at {self.api_url}: unreachable: {describe(err)} ({where}, {tries})"
            ) from err

    def _check(self, response: requests.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            text = " ".join(response.text[:300].split())
            raise GDCError(f"GDC {what}: HTTP {response.status_code} from {response.url}: {text}")
        try:
            return response.json()
        except ValueError as err:
            raise GDCError(f"GDC {what}: answer from {response.url} is not JSON") from err

    def status(self) -> dict[str, Any]:
        """``GET /status``: API version, data release, ``status: OK``."""
        url = f"{self.api_url}/status"
        answer = self._check(self._request("GET", url), url)
        log.debug("GDC %s: %s", self.api_url, answer.get("data_release", answer.get("status")))
        return answer

    def search(
        self,
        endpoint: str,
        filters: dict[str, Any],
        fields: list[str],
        *,
        sort: str,
        expand: list[str] | None = None,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of a search on ``endpoint``, page by page, in the order of ``sort``.

        ``sort`` (``"file_id:asc"``) must name a unique key: without it the GDC may order each
        page's query differently, so pages overlap and hits go missing (FEAT-120).
        """
        if not sort or ":" not in sort:
            raise ValueError(f"GDC /{endpoint}: sort must be '<unique field>:asc', got {sort!r}")
        url = f"{self.api_url}/{endpoint}"
        body: dict[str, Any] = {
            "filters": filters,
            "fields": ",".join(fields),
            "format": "json",
            "size": page_size,
            "sort": sort,
        }
        if expand:
            body["expand"] = ",".join(expand)
        start, page, pages = 0, 0, 1
        while page < pages:
            body["from"] = start
            response = self._request("POST", url, json=body)
            answer = self._check(response, f"/{endpoint} search")
            try:
                hits = answer["data"]["hits"]
                pagination = answer["data"]["pagination"]
                page, pages = int(pagination["page"]), int(pagination["pages"])
            except (KeyError, TypeError, ValueError) as err:
                raise GDCError(f"GDC {url}: unexpected search answer ({err!r})") from err
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
            timeout=self.policy.timeouts,
        )
