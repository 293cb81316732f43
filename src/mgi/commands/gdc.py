"""``mgi gdc download`` / ``cases`` / ``markers`` / ``status``: the GDC API client."""

from __future__ import annotations

import argparse

DEFAULT_API_URL = "https://api.gdc.cancer.gov"


def _common(p: argparse.ArgumentParser, *, project: bool = True) -> None:
    p.add_argument("--api-url", default=DEFAULT_API_URL, help="GDC API base URL")
    if project:
        p.add_argument("--project", default="TCGA-LGG", help="GDC project id")
    p.add_argument("--token-file", help="GDC token file (sent as X-Auth-Token; never logged)")
    p.add_argument("--tries", type=int, default=8, help="tries per request and per file")
    p.add_argument("--timeout", type=float, default=60.0, help="connect/read timeout (s)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry wait (s); doubles")


def register(sub: argparse._SubParsersAction) -> None:
    gdc = sub.add_parser("gdc", help="download RNA-seq and clinical data from the GDC API")
    gdc_sub = gdc.add_subparsers(dest="action", required=True)

    p = gdc_sub.add_parser("download", help="a project's open STAR-Counts files + files.tsv")
    _common(p)
    p.add_argument("--out", required=True, help="folder for files.tsv, manifest.tsv, files")
    p.add_argument("--processes", type=int, default=4, help="parallel downloads")
    p.set_defaults(func=_download)

    p = gdc_sub.add_parser("cases", help="a project's clinical table (Parquet)")
    _common(p)
    p.add_argument("--out", required=True, help="output Parquet file")
    p.set_defaults(func=_cases)

    p = gdc_sub.add_parser("markers", help="a project's IDH and 1p/19q markers (Parquet)")
    _common(p)
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="co-deleted when at least this fraction of both 1p and 19q genes is lost",
    )
    p.set_defaults(func=_markers)

    p = gdc_sub.add_parser(
        "status",
        help="check that the API answers (--markers: and serves what the markers stage reads)",
    )
    _common(p)
    p.add_argument(
        "--markers",
        action="store_true",
        help="one small live request per endpoint of the markers stage; checks its fields",
    )
    p.set_defaults(func=_status)


def _policy(args: argparse.Namespace):
    from mgi.gdc import RetryPolicy

    return RetryPolicy(tries=args.tries, timeout=args.timeout, backoff=args.backoff)


def _api(args: argparse.Namespace) -> dict:
    """The download functions' project, API, token and retry options from the command line."""
    return {
        "project": args.project,
        "api_url": args.api_url,
        "token_file": args.token_file,
        "policy": _policy(args),
    }


def _download(args: argparse.Namespace) -> int:
    from mgi.gdc import download_project

    download_project(args.out, **_api(args), processes=args.processes)
    return 0


def _cases(args: argparse.Namespace) -> int:
    from mgi.gdc import download_clinical

    download_clinical(args.out, **_api(args))
    return 0


def _markers(args: argparse.Namespace) -> int:
    from mgi.gdc import download_markers

    download_markers(args.out, **_api(args), threshold=args.threshold)
    return 0


def _status(args: argparse.Namespace) -> int:
    """``GDC API at URL: OK (Data Release ...)``; unreachable: one error line, exit 1."""
    import sys

    from mgi.gdc import GDCClient, read_token

    client = GDCClient(args.api_url, token=read_token(args.token_file), policy=_policy(args))
    answer = client.status()
    release = str(answer.get("data_release") or "data release unknown")
    state = answer.get("status", "OK")
    sys.stdout.write(f"GDC API at {client.api_url}: {state} ({release})\n")
    if not args.markers:
        return 0
    from mgi.gdc.check import check_markers_api

    checks = check_markers_api(client, args.project)
    sys.stdout.write("".join(c.line() + "\n" for c in checks))
    failed = [f"/{c.endpoint}" for c in checks if not c.ok]
    if failed:
        raise RuntimeError(
            f"GDC API at {client.api_url}: the markers stage's requests fail for {args.project} "
            f"at {', '.join(failed)}"
        )
    return 0
