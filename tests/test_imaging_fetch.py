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


@pytest.mark.slow
def test_snakemake_paper_config_fetches_the_images_and_splits(repo, tmp_path):
    """configs/tcga-lgg.yaml with no images on disk: GDC and Kaggle stand-ins -> split.tsv,
    stratified on a data.csv column, and Table 2's labels.tsv: IDH and 1p/19q from the GDC's
    mutation and copy-number endpoints, data.csv's columns, each with its source; a rerun has
    nothing to do. The GDC stand-in is the strict one: documented fields only, and unsorted
    pages shuffled on every request, served 3 hits a page so that every query pages."""
    import os
    import subprocess
    import sys

    import pandas as pd
    import yaml
    from gdc_server import FakeGDC, fake_files, profile_file
    from test_gdc_markers import (
        GENES_1P,
        GENES_19Q,
        TYPES,
        cnv_occurrence,
        ssm_occurrence,
        transcript,
    )

    config = yaml.safe_load((repo / "configs/tcga-lgg.yaml").read_text())
    folders = [f"TCGA_CS_{4900 + k}_1996090{k}" for k in range(5)]  # the last has no RNA-seq
    cases = [
        {
            "id": f"c{k}",
            "case_id": f"c{k}",
            "submitter_id": f"TCGA-CS-{4900 + k}",
            "project": {"project_id": "TCGA-LGG"},
        }
        for k in range(4)
    ]
    # profile files: 4900, 4901 both; 4902 mutations only; 4903 copy number only
    profiled = {4900: "ssm cnv", 4901: "ssm cnv", 4902: "ssm", 4903: "cnv"}
    profiles = [
        profile_file(10 * case + i, f"TCGA-CS-{case}", TYPES[kind])
        for case, kinds in profiled.items()
        for i, kind in enumerate(kinds.split())
    ]
    idh = [transcript("IDH1", "R132H", True)]
    ssm = [ssm_occurrence(1, "TCGA-CS-4900", idh), ssm_occurrence(2, "TCGA-CS-4902", idh)]
    lost = [("1", g) for g in GENES_1P] + [("19", g) for g in GENES_19Q]
    cnv = [cnv_occurrence(i, "TCGA-CS-4900", c, g, "Loss") for i, (c, g) in enumerate(lost)]
    cnv += [cnv_occurrence(100 + i, "TCGA-CS-4901", "1", g, "Gain") for i, g in enumerate(GENES_1P)]
    cnv += [cnv_occurrence(200 + i, "TCGA-CS-4903", "1", g, "Loss") for i, g in enumerate(GENES_1P)]
    # 4902 has no copy-number file: its losses must not make it codeleted
    cnv += [cnv_occurrence(300 + i, "TCGA-CS-4902", c, g, "Loss") for i, (c, g) in enumerate(lost)]
    with (
        FakeGDC(
            fake_files(4) + profiles,
            cases=cases,
            retry_after="0",
            ssm_occurrences=ssm,
            cnv_occurrences=cnv,
            page_cap=3,
        ) as gdc,  # fmt: skip
        FakeKaggle(archive(kaggle_3m_files(folders)), api_faults=[503]) as kaggle,
    ):
        config["gdc"].update(api_url=gdc.url, processes=2)
        config["imaging"]["kaggle"]["patients"] = 5
        config["split"].update(
            scheme="holdout",
            test_fraction=0.5,
            val_fraction=0,
            stratify="neoplasm_histologic_grade",
        )
        config["finetune"]["select"] = "last"  # no validation patients among 4
        config["probe"].update(  # 4 patients: every class is rare at the paper's 10
            labels=["idh", "codeletion_1p19q", "neoplasm_histologic_grade", "tumor_grade"],
            min_per_class=1,
            max_missing=0.5,
        )
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "results/cohort/split.tsv",
            "resources/gdc/markers.parquet",
            "results/cohort/labels.tsv",
        ]
        cmd += ["-s", str(repo / "Snakefile"), "--cores", "1", "--directory", str(tmp_path)]
        cmd += ["--configfile", str(tmp_path / "config.yaml")]
        env = {**os.environ, **kaggle.env()}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        again = subprocess.run([*cmd, "-n"], capture_output=True, text=True, timeout=300, env=env)
    assert "Nothing to be done" in again.stdout + again.stderr
    for key, value, reruns in (("retries", 2, False), ("patients", 4, False), ("version", 3, True)):
        changed = yaml.safe_load((tmp_path / "config.yaml").read_text())
        changed["imaging"]["kaggle"][key] = value
        (tmp_path / "changed.yaml").write_text(yaml.safe_dump(changed))
        dry = [*cmd[:-1], str(tmp_path / "changed.yaml"), "-n"]
        plan = subprocess.run(dry, capture_output=True, text=True, timeout=300, env=env).stdout
        assert ("rule imaging_fetch:" in plan) == reruns, key
    assert (tmp_path / "resources/imaging/kaggle/kaggle_3m/data.csv").is_file()
    split = pd.read_csv(tmp_path / "results/cohort/split.tsv", sep="\t")
    assert len(split) == 4 and (split.split == "test").sum() == 2
    assert "HTTP 503" in (tmp_path / "logs/imaging/fetch.log").read_text()
    labels = pd.read_csv(tmp_path / "results/cohort/labels.tsv", sep="\t").set_index("case_id")
    assert labels.idh.isna().tolist() == [False, False, False, True]  # 4903: not profiled
    assert labels.idh.dropna().to_dict() == {
        "TCGA-CS-4900": "mutant", "TCGA-CS-4901": "wildtype", "TCGA-CS-4902": "mutant"
    }  # fmt: skip
    assert labels.codeletion_1p19q.fillna("NA").to_dict() == {
        "TCGA-CS-4900": "codeleted", "TCGA-CS-4901": "non-codeleted",
        "TCGA-CS-4902": "NA", "TCGA-CS-4903": "non-codeleted",  # 4903: 1p lost, 19q kept
    }  # fmt: skip
    markers = pd.read_parquet(tmp_path / "resources/gdc/markers.parquet")
    assert markers.set_index("case_submitter_id")[
        ["mutation_profiled", "copy_number_profiled"]
    ].to_dict("index") == {
        f"TCGA-CS-{c}": {"mutation_profiled": "ssm" in k, "copy_number_profiled": "cnv" in k}
        for c, k in profiled.items()
    }
    assert all("sort" in r["body"] for r in gdc.requests if r["method"] == "POST")
    data_csv = pd.read_csv(tmp_path / "resources/imaging/kaggle/kaggle_3m/data.csv")
    grade = data_csv.set_index(data_csv.Patient.str.replace("_", "-")).neoplasm_histologic_grade
    assert (labels.neoplasm_histologic_grade == grade.loc[labels.index]).all()
    sources = pd.read_csv(tmp_path / "results/cohort/label_sources.tsv", sep="\t")
    assert sources.set_index("label").source.to_dict() == {
        "idh": "gdc_markers",
        "codeletion_1p19q": "gdc_markers",
        "neoplasm_histologic_grade": "kaggle_3m",
        "tumor_grade": "gdc_clinical",
    }
    # the stand-in's cases have no diagnoses: tumor_grade is listed as skipped, not dropped
    assert sources.set_index("label").status.tolist() == ["used"] * 3 + ["skipped"]


def test_a_refused_connection_is_a_brief_retry_and_leaves_no_empty_folders(
    tmp_path, caplog, monkeypatch
):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", "/nonexistent")
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, closed)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.WARNING)
    with pytest.raises(KaggleFetchError, match="gave up after 3 tries \\(connection refused"):
        fetch_kaggle_3m(tmp_path, SOURCE, policy=RetryPolicy(tries=8, backoff=0.001))
    assert "retrying" in caplog.text and "resuming" not in caplog.text
    assert caplog.text.count("connection refused") == 2  # tries 2 and 3 announced
    assert [p for p in tmp_path.rglob("*")] == []  # no empty .kagglehub/datasets/... folders
