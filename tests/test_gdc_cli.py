"""``mgi gdc download`` / ``mgi gdc cases`` against the local GDC stand-in; the clinical table."""

from __future__ import annotations

import logging

import pandas as pd
from gdc_server import FakeGDC, fake_files

from mgi.cli import main
from mgi.gdc import COLUMNS, GDCClient, RetryPolicy, clinical_table

CASES = [
    {
        "id": "c1",
        "case_id": "c1",
        "submitter_id": "TCGA-CS-4942",
        "project": {"project_id": "TCGA-LGG"},
        "demographic": {"gender": "female", "vital_status": "Alive", "year_of_birth": 1960},
        "diagnoses": [
            {
                "age_at_diagnosis": 20000,
                "primary_diagnosis": "Astrocytoma, NOS",
                "classification_of_tumor": "recurrence",
                "tumor_grade": "G2",
            },
            {
                "age_at_diagnosis": 18000,
                "primary_diagnosis": "Astrocytoma, NOS",
                "classification_of_tumor": "primary",
                "tumor_grade": "G3",
            },
        ],
    },
    {
        "id": "c2",
        "case_id": "c2",
        "submitter_id": "TCGA-CS-4941",
        "project": {"project_id": "TCGA-LGG"},
        "diagnoses": [{"age_at_diagnosis": 15000, "tumor_grade": "Not Reported"}],
    },
    {
        "id": "c3",
        "case_id": "c3",
        "submitter_id": "TCGA-CS-4943",
        "project": {"project_id": "TCGA-LGG"},
    },
]


def test_clinical_table_tolerates_and_reports_missing_fields(caplog):
    caplog.set_level(logging.WARNING)
    with FakeGDC([], cases=CASES) as gdc:
        table = clinical_table(
            GDCClient(gdc.url, policy=RetryPolicy(backoff=0.001)), "TCGA-LGG", page_size=2
        )
        body = gdc.requests[0]["body"]
    assert body["expand"] == "demographic,diagnoses"
    assert body["filters"]["content"] == {"field": "project.project_id", "value": ["TCGA-LGG"]}
    assert list(table["case_submitter_id"]) == ["TCGA-CS-4941", "TCGA-CS-4942", "TCGA-CS-4943"]
    row = table.set_index("case_submitter_id").loc["TCGA-CS-4942"]
    assert row["tumor_grade"] == "G3" and row["age_at_diagnosis"] == 18000  # the primary one
    assert table["tumor_grade"].isna().sum() == 2 and table["gender"].isna().sum() == 2
    assert "tumor_grade (2)" in caplog.text and "some of 3 cases" in caplog.text


def test_cli_download_and_cases(tmp_path, capfd):
    files = fake_files(4)
    out = tmp_path / "rnaseq"
    with FakeGDC(files, cases=CASES, retry_after="0") as gdc:
        gdc.faults[files[2].file_id] = ["drop", "503"]
        args = ["gdc", "download", "--api-url", gdc.url, "--project", "TCGA-LGG", "--out"]
        assert main([*args, str(out), "--processes", "2", "--backoff", "0.001"]) == 0
        assert (
            main(
                [
                    "gdc",
                    "cases",
                    "--api-url",
                    gdc.url,
                    "--project",
                    "TCGA-LGG",
                    "--out",
                    str(tmp_path / "cases.parquet"),
                ]
            )
            == 0
        )
        gdc.faults[files[0].file_id] = ["503"] * 3
        bad = main([*args, str(tmp_path / "bad"), "--tries", "2", "--backoff", "0.001"])
    assert bad == 1  # exit 0 only when every file verified
    assert f"{files[0].file_id}/{files[0].file_name}: not verified" in capfd.readouterr().err
    table = pd.read_csv(out / "files.tsv", sep="\t")
    assert list(table.columns) == COLUMNS and len(table) == 4
    assert (out / "manifest.tsv").exists()
    assert not (tmp_path / "bad" / "files.tsv").exists()
    clinical = pd.read_parquet(tmp_path / "cases.parquet")
    assert clinical["case_submitter_id"].is_unique and len(clinical) == 3


def test_snakemake_gdc_rules_fill_the_shared_paths(tmp_path, repo):
    """rules/download.smk (source: gdc) through Snakemake, against the local server."""
    import subprocess
    import sys

    import yaml

    config = yaml.safe_load((repo / "config.yaml").read_text())
    files = fake_files(3)
    with FakeGDC(files, cases=CASES, retry_after="0") as gdc:
        gdc.faults[files[1].file_id] = ["drop"]
        config["source"] = "gdc"
        config["gdc"].update(api_url=gdc.url, processes=2, retries=3)
        config["imaging"]["sheet"] = str(tmp_path / "sheet.tsv")  # not built here
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        targets = ["resources/gdc/rnaseq/files.tsv", "resources/gdc/cases.parquet"]
        cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(repo / "Snakefile")]
        cmd += ["--cores", "1", "--directory", str(tmp_path)]
        cmd += ["--configfile", str(tmp_path / "config.yaml")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / targets[0], sep="\t")
    assert list(table.columns) == COLUMNS and len(table) == 3
    for row in table.itertuples():
        assert (tmp_path / "resources/gdc/rnaseq" / row.file_id / row.file_name).is_file()
    assert len(pd.read_parquet(tmp_path / targets[1])) == 3
    assert "not verified" not in (tmp_path / "logs/gdc/download.log").read_text()


def _closed_port() -> int:
    """A local port nothing listens on (bound, then freed: safe under pytest-xdist)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_api_fails_fast_with_one_line(tmp_path):
    """`mgi gdc cases|status --api-url <closed port>` with the default retry policy: one line,
    no traceback, exit 1, in < 30 s (both commands run at once)."""
    import os
    import subprocess
    import sys
    import time

    url = f"http://127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if k != "MGI_DEBUG"}
    runs = {
        "POST /cases": ["cases", "--out", str(tmp_path / "c.parquet")],
        "GET /status": ["status"],
    }
    start = time.monotonic()
    procs = {
        where: subprocess.Popen(
            [sys.executable, "-m", "mgi.cli", "gdc", *args, "--api-url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for where, args in runs.items()
    }
    for where, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - start
        assert proc.returncode == 1 and took < 30, (took, err)
        assert err.splitlines() == [
            f"mgi: error: GDC API at {url}: unreachable: connection refused ({where}, 3 tries)"
        ], err
        assert out == ""
    assert not (tmp_path / "c.parquet").exists()


def test_debug_shows_the_traceback(capfd, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    fast = ["--backoff", "0.001"]
    monkeypatch.delenv("MGI_DEBUG", raising=False)
    assert main(["gdc", "status", "--api-url", url, *fast]) == 1
    assert "Traceback" not in capfd.readouterr().err
    assert main(["gdc", "status", "--api-url", url, *fast, "--debug"]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("mgi: error: GDC API at")
    monkeypatch.setenv("MGI_DEBUG", "1")
    assert main(["gdc", "status", "--api-url", url, *fast]) == 1
    assert "Traceback" in capfd.readouterr().err


def test_status_ok_names_the_data_release(capfd):
    with FakeGDC([]) as gdc:
        assert main(["gdc", "status", "--api-url", gdc.url]) == 0
    assert capfd.readouterr().out == f"GDC API at {gdc.url}: OK (Data Release 41.0)\n"


def test_bad_input_is_one_line(tmp_path, capfd):
    missing = tmp_path / "nope.yaml"
    assert main(["config", "show", "--configfile", str(missing)]) == 1
    assert capfd.readouterr().err == f"mgi: error: {missing}: config file not found\n"
