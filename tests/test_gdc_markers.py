"""IDH and 1p/19q markers (mgi.gdc.markers) against the local GDC stand-in; `mgi gdc markers`."""

from __future__ import annotations

import pandas as pd
import pytest
from gdc_server import FakeGDC, fake_files, profile_file

from mgi.cli import main
from mgi.gdc import GDCClient, RetryPolicy, download_markers, markers_table
from mgi.gdc.markers import COLUMNS, SORT, arm_of

LGG, GBM = "TCGA-LGG", "TCGA-GBM"
FIVE = "cnv_change_5_category"
GENES_1P = [1_000_000 + k * 12_000_000 for k in range(10)]  # 1.0 .. 109.0 Mb, before acen
GENES_1Q = [150_000_000, 200_000_000]
GENES_19P = [5_000_000]
GENES_19Q = [30_000_000 + k * 3_000_000 for k in range(8)]  # 30 .. 51 Mb, after acen
PROFILES = {
    "TCGA-AA-0001": ["cnv", "ssm"],  # IDH1 R132H, 1p and 19q lost: codeleted
    "TCGA-AA-0002": ["cnv", "ssm"],  # no IDH, only 1p lost: wildtype, non-codeleted
    "TCGA-AA-0003": [],  # nothing profiled: null, null
    "TCGA-AA-0004": ["ssm"],  # IDH2 R172K, no CNV: mutant, null
    "TCGA-AA-0005": ["cnv"],  # 8/10 of 1p and all 19q lost: codeleted at 0.8; IDH null
    "TCGA-AA-0006": ["cnv", "ssm"],  # a non-hotspot IDH1 variant: wildtype; no CNV change
}


TYPES = {"ssm": "Masked Somatic Mutation", "cnv": "Gene Level Copy Number"}


def case_doc(barcode: str, project: str = LGG) -> dict:
    """A ``/cases`` document: case fields only (no available_variation_data there)."""
    return {
        "case_id": f"uuid-{barcode}",
        "submitter_id": barcode,
        "project": {"project_id": project},
    }


def occurrence_case(barcode: str, project: str = LGG) -> dict:
    """The ``case`` of an occurrence document, which does carry available_variation_data."""
    return {**case_doc(barcode, project), "available_variation_data": PROFILES.get(barcode, [])}


def cases() -> list[dict]:
    docs = [{"id": f"uuid-{b}", **case_doc(b)} for b in PROFILES]
    return docs + [{"id": "uuid-gbm", **case_doc("TCGA-XX-0001", GBM)}]


def files() -> list:
    """Each case's profile files, plus files that must not count: another project's, a
    controlled one, and an RNA-seq file of the unprofiled case."""
    out = []
    for barcode, kinds in PROFILES.items():
        out += [profile_file(len(out), barcode, TYPES[k]) for k in sorted(kinds)]
    out.append(profile_file(len(out), "TCGA-XX-0001", TYPES["cnv"], GBM))
    controlled = profile_file(len(out), "TCGA-AA-0003", TYPES["ssm"])
    controlled.access = "controlled"
    rnaseq = fake_files(1)[0]
    rnaseq.case_submitter_id = "TCGA-AA-0003"
    return [*out, controlled, rnaseq]


def transcript(symbol: str, aa: str, canonical: bool | None, k: int = 0) -> dict:
    t = {"transcript_id": f"ENST{k:011d}", "gene": {"symbol": symbol}, "aa_change": aa}
    if canonical is not None:
        t["is_canonical"] = canonical
    return {"transcript": t}


def ssm_occurrence(i: int, barcode: str, consequences: list[dict], project: str = LGG) -> dict:
    return {
        "id": f"ssm-occ-{i}",
        "ssm_occurrence_id": f"ssm-occ-{i}",
        "case": occurrence_case(barcode, project),
        "ssm": {"ssm_id": f"ssm-{i}", "chromosome": "chr2", "consequence": consequences},
    }


def ssm_occurrences() -> list[dict]:
    return [
        ssm_occurrence(
            1,
            "TCGA-AA-0001",
            [transcript("IDH1", "R89H", False, 1), transcript("IDH1", "R132H", True, 2)],
        ),
        ssm_occurrence(2, "TCGA-AA-0004", [transcript("IDH2", "R172K", None, 3)]),
        ssm_occurrence(3, "TCGA-AA-0006", [transcript("IDH1", "G97D", True, 4)]),
        ssm_occurrence(4, "TCGA-AA-0002", [transcript("TP53", "R273C", True, 5)]),  # not IDH
        ssm_occurrence(5, "TCGA-XX-0001", [transcript("IDH1", "R132H", True, 2)], GBM),
    ]


def cnv_occurrence(
    i: int, barcode: str, chromosome: str, start: int, change: str, five: str | None = None
) -> dict:
    return {
        "id": f"cnv-occ-{i}",
        "cnv_occurrence_id": f"cnv-occ-{i}",
        "case": occurrence_case(barcode, GBM if barcode.startswith("TCGA-XX") else LGG),
        "cnv": {
            "cnv_id": f"cnv-{chromosome}-{start}-{five or change}",
            "cnv_change": change,
            "cnv_change_5_category": five or change,
            "chromosome": chromosome,
            "start_position": start,
            "end_position": start + 50_000,
            "gene_level_cn": True,
            "ncbi_build": "GRCh38",
            "consequence": [
                {"gene": {"gene_id": f"ENSG{chromosome}{start:011d}", "symbol": f"G{start}"}}
            ],
        },
    }


def cnv_occurrences() -> list[dict]:
    docs: list[dict] = []

    def add(barcode, chromosome, starts, change="Loss", five=None):
        for start in starts:
            docs.append(cnv_occurrence(len(docs), barcode, chromosome, start, change, five))

    add("TCGA-AA-0001", "1", GENES_1P)
    add("TCGA-AA-0001", "1", GENES_1P[:2], "Loss", "Homozygous Deletion")  # 2nd aliquot
    add("TCGA-AA-0001", "19", GENES_19Q)
    add("TCGA-AA-0001", "1", GENES_1Q)  # 1q: not 1p, not asked for
    add("TCGA-AA-0002", "1", GENES_1P)
    add("TCGA-AA-0002", "19", GENES_19Q[:3], "Gain")
    add("TCGA-AA-0002", "19", GENES_19P)  # 19p: not 19q
    add("TCGA-AA-0005", "1", GENES_1P[:8])
    add("TCGA-AA-0005", "19", GENES_19Q[:1], "Loss", "Homozygous Deletion")
    add("TCGA-AA-0005", "19", GENES_19Q[1:])
    add("TCGA-XX-0001", "1", GENES_1P)  # another project
    add("TCGA-XX-0001", "19", GENES_19Q)
    return docs


def fake(**kw) -> FakeGDC:
    """The stand-in serving these files, cases and occurrences."""
    kw.setdefault("retry_after", "0")
    return FakeGDC(
        files(),
        cases=cases(),
        ssm_occurrences=ssm_occurrences(),
        cnv_occurrences=cnv_occurrences(),
        **kw,
    )


def client(gdc: FakeGDC, tries: int = 8) -> GDCClient:
    return GDCClient(gdc.url, policy=RetryPolicy(tries=tries, backoff=0.001))


class UnsortedClient(GDCClient):
    """A client that pages without ``sort``, as ours did before (FEAT-120)."""

    def _request(self, method, url, **kwargs):
        kwargs.get("json", {}).pop("sort", None)
        return super()._request(method, url, **kwargs)


EXPECTED = {
    # barcode: (idh, idh_mutations, codeletion, loss_1p, loss_19q, mutation_/copy_number_profiled)
    "TCGA-AA-0001": ("mutant", "IDH1 R132H", "codeleted", 1.0, 1.0, True, True),
    "TCGA-AA-0002": ("wildtype", None, "non-codeleted", 1.0, 0.0, True, True),
    "TCGA-AA-0003": (None, None, None, None, None, False, False),
    "TCGA-AA-0004": ("mutant", "IDH2 R172K", None, None, None, True, False),
    "TCGA-AA-0005": (None, None, "codeleted", 0.8, 1.0, False, True),
    "TCGA-AA-0006": ("wildtype", "IDH1 G97D", "non-codeleted", 0.0, 0.0, True, True),
}


def as_tuples(table: pd.DataFrame) -> dict[str, tuple]:
    out = {}
    for row in table.astype(object).itertuples(index=False):
        values = tuple(None if pd.isna(v) else v for v in row[1:])
        out[row.case_submitter_id] = values
    return out


def test_arms_by_grch38_centromeres():
    assert arm_of("1", 121_699_999) == "1p" and arm_of("chr1", 1) == "1p"
    assert arm_of("1", 121_700_000) is None and arm_of("1", 125_100_001) is None  # acen / 1q
    assert arm_of("19", 28_100_001) == "19q" and arm_of("19", 24_199_999) is None  # 19p
    assert arm_of("2", 1) is None


def test_markers_idh_and_codeletion_calls():
    with fake() as gdc:
        table = markers_table(client(gdc), LGG)
        bodies = {r["path"]: r["body"] for r in gdc.requests}
    assert list(table.columns) == COLUMNS
    assert list(table["case_submitter_id"]) == sorted(PROFILES)  # one row per case, no GBM
    assert as_tuples(table) == EXPECTED
    assert str(table["idh"].dtype) == "string" and table["loss_1p"].dtype == "float64"
    ssm = bodies["/ssm_occurrences"]["filters"]["content"]
    assert {"field": "case.project.project_id", "value": [LGG]} in [c["content"] for c in ssm]
    assert {"field": "ssm.consequence.transcript.gene.symbol", "value": ["IDH1", "IDH2"]} in [
        c["content"] for c in ssm
    ]
    profiled = {
        c["content"]["field"]: c["content"]["value"] for c in bodies["/files"]["filters"]["content"]
    }
    assert profiled == {
        "cases.project.project_id": [LGG],
        "files.data_type": ["Masked Somatic Mutation", "Gene Level Copy Number"],
        "files.access": ["open"],
    }
    assert "available_variation_data" not in bodies["/cases"]["fields"]
    assert "cnv.cnv_change" in bodies["/cnv_occurrences"]["fields"].split(",")
    assert {path: body["sort"] for path, body in bodies.items()} == {
        f"/{endpoint}": key for endpoint, key in SORT.items()
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_pages_need_sort(seed):
    """The stand-in answers unsorted queries in a fresh random order each time (FEAT-120): a
    client paging without sort gets wrong markers; ours sorts and gets the right ones."""
    with fake(seed=seed) as gdc:
        ours = markers_table(client(gdc), LGG, page_size=2, case_batch=2)
        unsorted = UnsortedClient(gdc.url, policy=RetryPolicy(backoff=0.001))
        try:
            theirs = as_tuples(markers_table(unsorted, LGG, page_size=2, case_batch=2))
        except RuntimeError as err:  # so many hits lost that a check stops it
            theirs = str(err)
    assert as_tuples(ours) == EXPECTED
    assert theirs != EXPECTED


def test_threshold_is_a_parameter():
    with fake() as gdc:
        strict = markers_table(client(gdc), LGG, threshold=0.9).set_index("case_submitter_id")
    assert strict.loc["TCGA-AA-0005", "codeletion_1p19q"] == "non-codeleted"
    assert strict.loc["TCGA-AA-0001", "codeletion_1p19q"] == "codeleted"
    with pytest.raises(ValueError, match="threshold"):
        markers_table(None, LGG, threshold=1.5)


def test_pages_and_case_batches():
    with fake() as gdc:
        table = markers_table(client(gdc), LGG, page_size=2, case_batch=2)
        cnv = [r["body"] for r in gdc.requests if r["path"] == "/cnv_occurrences"]
        ssm = [r["body"] for r in gdc.requests if r["path"] == "/ssm_occurrences"]
    assert as_tuples(table) == EXPECTED
    assert [b["from"] for b in ssm] == [0, 2]  # 3 IDH occurrences of LGG: two pages of 2
    batches = {tuple(b["filters"]["content"][1]["content"]["value"]) for b in cnv}
    assert batches == {("TCGA-AA-0001", "TCGA-AA-0002"), ("TCGA-AA-0005", "TCGA-AA-0006")}
    assert max(b["from"] for b in cnv) >= 30  # cases 1+2: 33 hits on 1p/19q, 17 pages
    assert all(b["size"] == 2 for b in cnv)


def test_retries_a_503_then_succeeds():
    with fake(api_faults=[503]) as gdc:
        table = markers_table(client(gdc), LGG)
        first = gdc.requests[0]["path"]
    assert first == "/cases" and as_tuples(table) == EXPECTED


@pytest.mark.parametrize(
    ("endpoint", "spoil"),
    [
        # spoiled so that the hit still passes the request's filters, as a changed release would
        (
            "cnv_occurrences",
            lambda d: [d["cnv_occurrences"][3]["cnv"].pop(k) for k in ("cnv_change", FIVE)],
        ),
        ("ssm_occurrences", lambda d: d["ssm_occurrences"][1]["case"].pop("submitter_id")),
        (
            "ssm_occurrences",
            lambda d: d["ssm_occurrences"][1]["ssm"]["consequence"][0]["transcript"].pop(
                "aa_change"
            ),
        ),
        ("cases", lambda d: d["cases"][2].pop("submitter_id")),
        ("files", lambda d: setattr(d["files"][1], "case_submitter_id", "")),
    ],
)
def test_malformed_hit_stops_naming_the_endpoint_and_writes_nothing(tmp_path, endpoint, spoil):
    out = tmp_path / "markers.parquet"
    with fake() as gdc:
        spoil(vars(gdc))
        with pytest.raises(RuntimeError, match=f"GDC /{endpoint}: malformed hit"):
            download_markers(out, project=LGG, api_url=gdc.url)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary left


def test_no_copy_number_file_at_all_is_an_error_not_unprofiled():
    with fake() as gdc:
        gdc.files[:] = [f for f in gdc.files if f.data_type != TYPES["cnv"]]
        with pytest.raises(RuntimeError, match="no open 'Gene Level Copy Number' file"):
            markers_table(client(gdc), LGG)


def test_undocumented_fields_are_refused():
    with fake() as gdc:
        c = client(gdc, tries=1)
        with pytest.raises(RuntimeError, match="HTTP 400 .*available_variation_data"):
            list(
                c.search(
                    "cases", {}, ["submitter_id", "available_variation_data"], sort="case_id:asc"
                )
            )
        hits = gdc.search("cases", {"fields": "submitter_id", "size": 100})["data"]["hits"]
        assert {k for hit in hits for k in hit} == {"id", "submitter_id"}  # fields= honoured
        bad_op = {"op": "like", "content": {"field": "submitter_id", "value": "TCGA-%"}}
        with pytest.raises(RuntimeError, match="HTTP 400 .*op 'like'"):
            list(c.search("cases", bad_op, ["submitter_id"], sort="case_id:asc"))
        gdc.cases[0]["available_variation_data"] = ["ssm"]
        with pytest.raises(ValueError, match="undocumented fields"):
            gdc.search("cases", {"fields": "submitter_id"})


def test_failure_after_retries_leaves_nothing(tmp_path):
    out = tmp_path / "markers.parquet"
    with fake(api_faults=[0, 503, 503]) as gdc:  # /cases passes, /files fails twice
        args = ["gdc", "markers", "--api-url", gdc.url, "--out", str(out)]
        assert main([*args, "--tries", "2", "--backoff", "0.001"]) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_rerun_writes_the_same_bytes(tmp_path):
    first, second = tmp_path / "a" / "markers.parquet", tmp_path / "b" / "markers.parquet"
    with fake() as gdc:
        for out in (first, second):
            args = ["gdc", "markers", "--api-url", gdc.url, "--project", LGG, "--out", str(out)]
            assert main([*args, "--backoff", "0.001"]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert as_tuples(pd.read_parquet(first)) == EXPECTED


def test_status_markers_checks_each_endpoint_once(capfd):
    with fake() as gdc:
        assert main(["gdc", "status", "--markers", "--api-url", gdc.url, "--project", LGG]) == 0
        searched = [r["path"] for r in gdc.requests if r["method"] == "POST"]
        assert sorted(searched) == sorted(f"/{e}" for e in SORT)  # one request per endpoint
        assert all(r["body"]["size"] == 1 for r in gdc.requests if r["method"] == "POST")
        out = capfd.readouterr().out.splitlines()
        assert out[0] == f"GDC API at {gdc.url}: OK (Data Release 41.0)"
        assert all(": OK (" in line for line in out[1:]) and len(out) == 5
        for doc in gdc.cnv_occurrences:  # a release that renamed the field
            doc["cnv"]["cnv_change_5_category"] = doc["cnv"].pop("cnv_change")
        assert main(["gdc", "status", "--markers", "--api-url", gdc.url]) == 1
    out, err = capfd.readouterr()
    assert "  /cnv_occurrences: FAILED (missing cnv.cnv_change)" in out.splitlines()
    assert err.splitlines() == [
        f"mgi: error: GDC API at {gdc.url}: the markers stage's requests fail for {LGG} "
        "at /cnv_occurrences"
    ]
