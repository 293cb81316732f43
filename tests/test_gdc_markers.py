"""IDH and 1p/19q markers (mgi.gdc.markers) against the local GDC stand-in; `mgi gdc markers`."""

from __future__ import annotations

import pandas as pd
import pytest
from gdc_server import FakeGDC

from mgi.cli import main
from mgi.gdc import GDCClient, RetryPolicy, download_markers, markers_table
from mgi.gdc.markers import COLUMNS, arm_of

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


def case_doc(barcode: str, project: str = LGG) -> dict:
    return {
        "case_id": f"uuid-{barcode}",
        "submitter_id": barcode,
        "project": {"project_id": project},
        "available_variation_data": PROFILES.get(barcode, ["cnv", "ssm"]),
    }


def cases() -> list[dict]:
    docs = [{"id": f"uuid-{b}", **case_doc(b)} for b in PROFILES]
    return docs + [{"id": "uuid-gbm", **case_doc("TCGA-XX-0001", GBM)}]


def transcript(symbol: str, aa: str, canonical: bool | None, k: int = 0) -> dict:
    t = {"transcript_id": f"ENST{k:011d}", "gene": {"symbol": symbol}, "aa_change": aa}
    if canonical is not None:
        t["is_canonical"] = canonical
    return {"transcript": t}


def ssm_occurrence(i: int, barcode: str, consequences: list[dict], project: str = LGG) -> dict:
    return {
        "id": f"ssm-occ-{i}",
        "ssm_occurrence_id": f"ssm-occ-{i}",
        "case": case_doc(barcode, project),
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
        "case": case_doc(barcode, GBM if barcode.startswith("TCGA-XX") else LGG),
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
    """The stand-in serving these cases and occurrences, filtering every endpoint."""
    kw.setdefault("retry_after", "0")
    return FakeGDC(
        [],
        cases=cases(),
        ssm_occurrences=ssm_occurrences(),
        cnv_occurrences=cnv_occurrences(),
        apply_filters=True,
        **kw,
    )


def client(gdc: FakeGDC, tries: int = 8) -> GDCClient:
    return GDCClient(gdc.url, policy=RetryPolicy(tries=tries, backoff=0.001))


EXPECTED = {
    # barcode: (idh, idh_mutations, codeletion, loss_1p, loss_19q)
    "TCGA-AA-0001": ("mutant", "IDH1 R132H", "codeleted", 1.0, 1.0),
    "TCGA-AA-0002": ("wildtype", None, "non-codeleted", 1.0, 0.0),
    "TCGA-AA-0003": (None, None, None, None, None),
    "TCGA-AA-0004": ("mutant", "IDH2 R172K", None, None, None),
    "TCGA-AA-0005": (None, None, "codeleted", 0.8, 1.0),
    "TCGA-AA-0006": ("wildtype", "IDH1 G97D", "non-codeleted", 0.0, 0.0),
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
    assert "available_variation_data" in bodies["/cases"]["fields"].split(",")
    assert "cnv.cnv_change" in bodies["/cnv_occurrences"]["fields"].split(",")


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
    ],
)
def test_malformed_hit_stops_naming_the_endpoint_and_writes_nothing(tmp_path, endpoint, spoil):
    out = tmp_path / "markers.parquet"
    with fake() as gdc:
        spoil(vars(gdc))
        with pytest.raises(RuntimeError, match=f"GDC /{endpoint}: malformed hit"):
            download_markers(out, project=LGG, api_url=gdc.url)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary left


def test_field_not_served_is_an_error_not_unprofiled():
    with fake() as gdc:
        for doc in gdc.cases:
            doc.pop("available_variation_data")
        with pytest.raises(RuntimeError, match="available_variation_data"):
            markers_table(client(gdc), LGG)


def test_failure_after_retries_leaves_nothing(tmp_path):
    out = tmp_path / "markers.parquet"
    with fake(api_faults=[0, 503, 503]) as gdc:  # /cases passes, /ssm_occurrences fails twice
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
