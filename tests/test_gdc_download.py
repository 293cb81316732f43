"""mgi.gdc against a local GDC stand-in: search, resumable downloads, safety, reruns."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from gdc_server import FakeFile, FakeGDC, fake_files

from mgi.gdc import (
    COLUMNS,
    FileRecord,
    GDCClient,
    RetryPolicy,
    download_file,
    download_project,
    md5_of,
    project_files,
    target_path,
)

FAST = RetryPolicy(tries=4, backoff=0.001, max_wait=5.0, timeout=5.0, chunk_bytes=4096)


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def record(f: FakeFile) -> FileRecord:
    return FileRecord(
        f.file_id,
        f.file_name,
        f.body.md5,
        f.body.size,
        f.case_id,
        f.case_submitter_id,
        f.sample_submitter_id,
        f.sample_type,
    )


def test_search_pages_through_every_hit_with_the_real_filters():
    with FakeGDC(fake_files(7)) as gdc:
        records = project_files(GDCClient(gdc.url, policy=FAST), "TCGA-LGG", page_size=3)
    posts = [r for r in gdc.requests if r["method"] == "POST"]
    assert [p["body"]["from"] for p in posts] == [0, 3, 6]
    assert len(records) == 7 and len({r.file_id for r in records}) == 7
    body = posts[0]["body"]
    assert body["format"] == "json" and body["size"] == 3
    assert body["sort"] == "file_id:asc"  # the stand-in shuffles unsorted pages (FEAT-120)
    terms = {t["content"]["field"]: t["content"]["value"] for t in body["filters"]["content"]}
    assert terms == {
        "cases.project.project_id": ["TCGA-LGG"],
        "files.data_type": ["Gene Expression Quantification"],
        "files.analysis.workflow_type": ["STAR - Counts"],
        "files.access": ["open"],
    }
    first = records[0]
    assert first.case_submitter_id == "TCGA-CS-4900" and first.sample_type == "Primary Tumor"
    assert first.sample_submitter_id == "TCGA-CS-4900-01A" and len(first.md5sum) == 32


def test_search_retries_429_honouring_retry_after_and_503(monkeypatch):
    waits = Sleeps()
    monkeypatch.setattr("urllib3.util.retry.time.sleep", waits)
    with FakeGDC(fake_files(2), api_faults=[429, 503]) as gdc:
        records = project_files(GDCClient(gdc.url, policy=FAST), "TCGA-LGG")
    assert len(records) == 2
    assert len([r for r in gdc.requests if r["method"] == "POST"]) == 3
    assert 1.0 in waits  # Retry-After: 1


def test_download_resumes_a_dropped_body_with_range(tmp_path):
    files = fake_files(1)
    f = files[0]
    with FakeGDC(files) as gdc:
        gdc.faults[f.file_id] = ["drop"]
        assert download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path, sleep=Sleeps())
    gets = gdc.data_requests()
    assert len(gets) == 2
    assert "Range" not in gets[0]["headers"]
    # Resumed from the bytes kept on disk (whole chunks before the break), not restarted.
    start = int(gets[1]["headers"]["Range"].removeprefix("bytes=").rstrip("-"))
    assert f.body.size // 2 - FAST.chunk_bytes < start <= f.body.size // 2
    out = tmp_path / f.file_id / f.file_name
    assert out.read_bytes() == f.body.slice(0, f.body.size)
    assert not list(tmp_path.rglob("*.partial"))


def test_a_partial_left_by_an_earlier_run_is_resumed(tmp_path):
    files = fake_files(1)
    f = files[0]
    partial = tmp_path / f.file_id / f"{f.file_name}.partial"
    partial.parent.mkdir()
    partial.write_bytes(f.body.slice(0, 1000))
    with FakeGDC(files) as gdc:
        download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path)
    assert [r["headers"].get("Range") for r in gdc.data_requests()] == ["bytes=1000-"]
    assert md5_of(tmp_path / f.file_id / f.file_name) == f.body.md5


def test_download_waits_retry_after_on_429_and_backs_off_on_503(tmp_path):
    files = fake_files(1)
    f = files[0]
    waits = Sleeps()
    with FakeGDC(files, retry_after="3") as gdc:
        gdc.faults[f.file_id] = ["429", "503"]
        download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path, sleep=waits)
    assert waits[0] == 3.0  # Retry-After honoured
    assert len(gdc.data_requests()) == 3
    assert md5_of(tmp_path / f.file_id / f.file_name) == f.body.md5


def test_wrong_md5_is_fetched_again_and_never_kept(tmp_path):
    files = fake_files(2)
    good, bad = files
    with FakeGDC(files) as gdc:
        client = GDCClient(gdc.url, policy=FAST)
        gdc.faults[good.file_id] = ["corrupt"]
        download_file(client, record(good), tmp_path, sleep=Sleeps())
        assert md5_of(tmp_path / good.file_id / good.file_name) == good.body.md5
        gdc.faults[bad.file_id] = ["corrupt"] * FAST.tries
        with pytest.raises(RuntimeError, match=f"{bad.file_id}/{bad.file_name}.*4 tries.*md5"):
            download_file(client, record(bad), tmp_path, sleep=Sleeps())
    assert not (tmp_path / bad.file_id / bad.file_name).exists()
    assert not list((tmp_path / bad.file_id).glob("*"))  # no corrupt partial kept either


def test_gives_up_after_bounded_tries_naming_the_file(tmp_path):
    files = fake_files(1)
    f = files[0]
    with FakeGDC(files) as gdc:
        gdc.faults[f.file_id] = ["503"] * 10
        with pytest.raises(RuntimeError, match=f.file_name):
            download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path, sleep=Sleeps())
    assert len(gdc.data_requests()) == FAST.tries


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    files = fake_files(1)
    f = files[0]
    with FakeGDC(files) as gdc:
        gdc.faults[f.file_id] = ["drop", "ignore_range"]
        download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path, sleep=Sleeps())
    assert md5_of(tmp_path / f.file_id / f.file_name) == f.body.md5


def test_path_escaping_names_never_leave_out(tmp_path):
    out = tmp_path / "gdc"
    files = fake_files(3, {0: "../../evil.tsv", 1: "/etc/passwd", 2: ".."})
    with FakeGDC(files) as gdc:
        records = download_project(out, api_url=gdc.url, policy=FAST, sleep=Sleeps())
    inside = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert inside == {"files.tsv", "manifest.tsv"} | {f"{r.file_id}/{r.file_name}" for r in records}
    assert {r.file_name for r in records} == {"evil.tsv", "passwd", f"{files[2].file_id}.tsv"}
    assert {p.name for p in tmp_path.iterdir()} == {"gdc"}
    listed = pd.read_csv(out / "files.tsv", sep="\t")
    assert set(listed["file_name"]) == {r.file_name for r in records}
    with pytest.raises(ValueError, match="unsafe"):
        target_path(out, FileRecord(files[0].file_id, "../x", "0" * 32, 1, "", "", "", ""))
    with pytest.raises(ValueError, match="unsafe"):
        target_path(out, FileRecord("../../etc", "x", "0" * 32, 1, "", "", "", ""))


def test_project_download_writes_the_contract_tables_and_rerun_fetches_nothing(tmp_path):
    files = fake_files(5)
    with FakeGDC(files) as gdc:
        gdc.faults[files[1].file_id] = ["drop"]
        gdc.faults[files[3].file_id] = ["503", "corrupt"]
        download_project(
            tmp_path, api_url=gdc.url, processes=3, policy=FAST, page_size=2, sleep=Sleeps()
        )
        first = len(gdc.data_requests())
        download_project(tmp_path, api_url=gdc.url, processes=3, policy=FAST, page_size=2)
        assert len(gdc.data_requests()) == first  # the rerun downloaded nothing
    table = pd.read_csv(tmp_path / "files.tsv", sep="\t")
    assert list(table.columns) == COLUMNS and len(table) == 5
    manifest = pd.read_csv(tmp_path / "manifest.tsv", sep="\t")
    assert list(manifest.columns) == ["id", "filename", "md5", "size", "state"]
    for row in table.itertuples():
        assert md5_of(tmp_path / row.file_id / row.file_name) == row.md5sum


def test_a_wrong_file_on_disk_is_replaced(tmp_path):
    files = fake_files(1)
    f = files[0]
    dest = tmp_path / f.file_id / f.file_name
    dest.parent.mkdir()
    dest.write_bytes(b"stale")
    with FakeGDC(files) as gdc:
        assert download_file(GDCClient(gdc.url, policy=FAST), record(f), tmp_path)
    assert md5_of(dest) == f.body.md5


def test_failure_leaves_no_tables(tmp_path):
    files = fake_files(2)
    with FakeGDC(files) as gdc:
        gdc.faults[files[0].file_id] = ["503"] * 10
        with pytest.raises(RuntimeError, match=r"1 of 2 GDC files not verified"):
            download_project(tmp_path, api_url=gdc.url, policy=FAST, sleep=Sleeps())
    assert not (tmp_path / "files.tsv").exists() and not (tmp_path / "manifest.tsv").exists()


def test_token_is_sent_but_never_logged_or_written(tmp_path, caplog):
    token = "SECRET-TOKEN-abc123"
    token_file = tmp_path / "token.txt"
    token_file.write_text(token + "\n")
    out = tmp_path / "out"
    files = fake_files(2)
    caplog.set_level(logging.DEBUG)
    with FakeGDC(files) as gdc:
        gdc.faults[files[0].file_id] = ["503"]
        download_project(out, api_url=gdc.url, token_file=token_file, policy=FAST, sleep=Sleeps())
    assert all(r["headers"].get("X-Auth-Token") == token for r in gdc.requests)
    assert token not in caplog.text
    assert token not in repr(GDCClient(gdc.url, token=token))
    for path in out.rglob("*"):
        if path.is_file():
            assert token.encode() not in Path(path).read_bytes()


def test_search_errors_name_the_endpoint():
    with FakeGDC([]) as gdc:
        client = GDCClient(gdc.url, policy=FAST)
        with pytest.raises(RuntimeError, match=r"/nowhere search: HTTP 404"):
            list(client.search("nowhere", {}, ["file_id"], sort="file_id:asc"))
        with pytest.raises(ValueError, match="sort must be"):
            list(client.search("files", {}, ["file_id"], sort=""))
        with pytest.raises(RuntimeError, match="no open STAR-Counts files for TCGA-LGG"):
            project_files(client, "TCGA-LGG")
    with pytest.raises(ValueError, match="invalid GDC retry policy"):
        RetryPolicy(tries=0)


def test_files_tsv_is_the_same_whatever_order_the_pages_come_in(tmp_path):
    """Sorted paging (file_id:asc): the stand-in shuffles unsorted answers on every request."""
    files = fake_files(7)
    for seed in (1, 2):
        with FakeGDC(files, seed=seed, page_cap=2) as gdc:
            download_project(tmp_path / str(seed), api_url=gdc.url, policy=FAST, page_size=2)
    first, second = ((tmp_path / s / "files.tsv").read_bytes() for s in ("1", "2"))
    assert first == second and len(first.splitlines()) == 8
