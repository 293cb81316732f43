"""kaggle_3m through kagglehub against the local Kaggle stand-in: faults survived, resumed,
verified before anything reads it, and a rerun fetches nothing."""

from __future__ import annotations

import logging

import pytest
from kaggle_server import FakeKaggle, archive, files_from_folder, kaggle_3m_files

from mgi.cli import main
from mgi.gdc.client import RetryPolicy
from mgi.imaging.kaggle_fetch import LICENCE, KaggleFetchError, KaggleSource, fetch_kaggle_3m
from mgi.imaging.kaggle_verify import find_kaggle_3m, verify_kaggle_3m

FOLDERS = ["TCGA_CS_4941_19960909", "TCGA_CS_4942_19970222", "TCGA_DU_7010_19860307"]
SOURCE = KaggleSource(patients=3)
FAST = RetryPolicy(tries=4, backoff=0.001)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return kaggle_3m_files(FOLDERS)


@pytest.fixture
def kaggle(files, monkeypatch):
    """The stand-in serving a 3-patient archive; kagglehub's calls go there."""
    with FakeKaggle(archive(files)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def _archive_gets(server: FakeKaggle) -> list[str | None]:
    return [r["range"] for r in server.requests if r["path"].startswith("/storage/")]


def test_faults_are_survived_the_download_resumes_and_a_rerun_fetches_nothing(
    kaggle, tmp_path, caplog, capfd, monkeypatch
):
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "secret-key-0123")
    caplog.set_level(logging.INFO)
    kaggle.api_faults += [503, 429]
    kaggle.archive_faults += ["drop"]
    out = fetch_kaggle_3m(tmp_path, SOURCE, policy=FAST)
    assert out == (tmp_path / "kaggle_3m").resolve()
    assert verify_kaggle_3m(out, patients=3).slices == 9
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == FOLDERS
    body = kaggle.requests[0]["body"]
    assert body["ownerSlug"] == "mateuszbuda" and body["datasetSlug"] == "lgg-mri-segmentation"
    assert body["datasetVersionNumber"] == 2
    ranges = [r for r in _archive_gets(kaggle) if r]
    assert ranges and int(ranges[-1].removeprefix("bytes=").rstrip("-")) > 0  # resumed
    assert caplog.text.count(LICENCE) == 1 and "HTTP 503" in caplog.text
    assert "secret-key-0123" not in caplog.text + "".join(capfd.readouterr())
    assert not list(tmp_path.rglob("*.archive"))  # no archive left behind
    assert not list(tmp_path.rglob("lgg-mri-segmentation/kaggle_3m"))  # the second copy gone
    n = len(kaggle.requests)
    assert fetch_kaggle_3m(tmp_path, SOURCE, policy=FAST) == out
    assert len(kaggle.requests) == n  # a rerun fetches nothing


def test_corrupt_bytes_are_fetched_again(kaggle, tmp_path, caplog):
    kaggle.archive_faults += ["corrupt"]
    fetch_kaggle_3m(tmp_path, SOURCE, policy=FAST)
    assert "DataCorruptionError" in caplog.text
    assert len([r for r in _archive_gets(kaggle) if r is None]) == 2


def test_a_wrong_version_stops_with_a_message(kaggle, tmp_path):
    with pytest.raises(KaggleFetchError, match="version 3 not found .*imaging.kaggle.version"):
        fetch_kaggle_3m(tmp_path, KaggleSource(version=3, patients=3), policy=FAST)
    assert not (tmp_path / "kaggle_3m").exists()
    assert len(kaggle.requests) == 1  # a 404 is not retried


def test_a_persistent_503_gives_up_and_leaves_nothing(kaggle, tmp_path):
    kaggle.api_faults += [503] * 3
    with pytest.raises(KaggleFetchError, match="gave up after 3 tries \\(HTTP 503\\)"):
        fetch_kaggle_3m(tmp_path, SOURCE, policy=RetryPolicy(tries=3, backoff=0.001))
    assert not (tmp_path / "kaggle_3m").exists()


def test_an_incomplete_archive_stops_before_anything_is_in_place(files, tmp_path, monkeypatch):
    broken = {k: v for k, v in files.items() if k != f"{FOLDERS[1]}/{FOLDERS[1]}_2_mask.tif"}
    with FakeKaggle(archive(broken)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        with pytest.raises(FileNotFoundError, match=f"{FOLDERS[1]}_2_mask.tif: mask missing"):
            fetch_kaggle_3m(tmp_path, SOURCE, policy=FAST)
        with pytest.raises(ValueError, match="expected 110 patient folders, found 3"):
            fetch_kaggle_3m(tmp_path / "b", KaggleSource(), policy=FAST)
    assert not (tmp_path / "kaggle_3m").exists() and not (tmp_path / "b" / "kaggle_3m").exists()


def test_verification_names_what_is_missing(files, tmp_path):
    root = tmp_path / "kaggle_3m"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    assert find_kaggle_3m(tmp_path) == root
    assert verify_kaggle_3m(root, patients=None).patients == 3
    (root / FOLDERS[0] / f"{FOLDERS[0]}_3.tif").write_bytes(b"")
    with pytest.raises(ValueError, match=f"{FOLDERS[0]}_3.tif: empty file"):
        verify_kaggle_3m(root, patients=3)
    (root / "data.csv").unlink()
    with pytest.raises(FileNotFoundError, match="data.csv missing"):
        verify_kaggle_3m(root, patients=3)
    with pytest.raises(FileNotFoundError, match="no kaggle_3m/ folder"):
        find_kaggle_3m(tmp_path / "kaggle_3m" / FOLDERS[0])


def test_cli_fetch(kaggle, tmp_path):
    args = ["imaging", "fetch", "--source", "kaggle", "--out", str(tmp_path)]
    assert main([*args, "--patients", "3", "--backoff", "0.001"]) == 0
    assert (tmp_path / "kaggle_3m" / "data.csv").is_file()
    n = len(kaggle.requests)
    assert main([*args, "--patients", "3"]) == 0 and len(kaggle.requests) == n  # already there
    assert main([*args, "--version", "7", "--patients", "3"]) == 1  # another version: 404
    assert (tmp_path / "kaggle_3m" / "data.csv").is_file()  # the fetched one stays


def test_the_real_sample_goes_through_to_slices(shared_data, tmp_path, monkeypatch):
    """An archive of the real kaggle_3m sample (2 patients, first 4 slices) to a slice store."""
    from mgi.imaging import SliceOptions, SliceStore, build_store

    files = files_from_folder(shared_data / "kaggle_3m_sample", slices=4)
    with FakeKaggle(archive(files)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        out = fetch_kaggle_3m(tmp_path, KaggleSource(patients=2), policy=FAST)
    build_store("kaggle_3m", out, tmp_path / "store", SliceOptions(size=64, empty_masks="skip"))
    store = SliceStore(tmp_path / "store")
    assert set(store.index.case_id) == {"TCGA-CS-4941", "TCGA-DU-7010"}
