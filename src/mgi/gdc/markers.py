"""WHO glioma molecular markers per case: IDH1/2 mutation and 1p/19q co-deletion, from the GDC.

Three open search endpoints of the GDC API ("Data Analysis" in the API Users Guide,
https://docs.gdc.cancer.gov/API/Users_Guide/Data_Analysis/), all paged like ``/cases``:

``/cases`` (every case of the project), ``fields=case_id,submitter_id``, sorted by ``case_id``.

``/files`` (which cases were profiled): the project's open files of ``data_type``
``Masked Somatic Mutation`` (the per-aliquot somatic MAFs: the case was profiled for mutations)
and ``Gene Level Copy Number`` (profiled for copy number), ``fields=file_id,data_type,
cases.submitter_id``, sorted by ``file_id``::

    {"id": ..., "file_id": ..., "data_type": "Masked Somatic Mutation",
     "cases": [{"submitter_id": "TCGA-CS-4941"}]}

A case without a mutation file gets no IDH value (null, never "wildtype"); one without a
copy-number file no 1p/19q value (null, never "non-codeleted"). ``/cases`` has no field that says
this: ``available_variation_data`` exists only on occurrence documents (``case.*``) and in the
portal's GraphQL, not in the API guide's case fields.

``/ssm_occurrences`` (one somatic mutation in one case), filtered by ``case.project.project_id``
and ``ssm.consequence.transcript.gene.symbol`` in IDH1, IDH2::

    {"id": ..., "case": {"submitter_id": "TCGA-CS-4941"},
     "ssm": {"ssm_id": ..., "consequence": [
         {"transcript": {"gene": {"symbol": "IDH1"}, "aa_change": "R132H", "is_canonical": true}},
         {"transcript": {"gene": {"symbol": "IDH1"}, "aa_change": "R132H", "is_canonical": false}},
         ...]}}

(the consequence list with ``transcript.aa_change``/``is_canonical`` as in the guide's
``/ssms/<id>?expand=consequence.transcript`` example, KRAS ``G12D``). The label is the canonical
transcript's ``aa_change`` (else the first IDH consequence's): ``IDH1 R132H``.

``/cnv_occurrences`` (one gene-level copy-number change in one case)::

    {"id": ..., "case": {"submitter_id": "TCGA-CS-4941"},
     "cnv": {"cnv_change": "Loss", "cnv_change_5_category": "Loss", "chromosome": "1",
             "start_position": 1013497, "consequence": [{"gene": {"gene_id": "ENSG...",
                                                                  "symbol": "ISG15"}}]}}

The guide's examples show ``cnv_change`` "Loss"/"Gain", ``chromosome`` without a "chr" prefix
("4"; SSMs have "chr5"), ``gene_level_cn: true``, GRCh38. In the GDC mutation indexer (ASCAT
builder) a gene's ``cnv_change`` is "Loss" when its copy number is below the sample ploidy
(homozygous deletions included), "Gain" above it; ``cnv_change_5_category`` splits these into
"Homozygous Deletion"/"Loss"/"Gain"/"Amplification"; copy-neutral genes are NOT indexed, and only
protein-coding genes of chromosomes 1-22 are. So a case's occurrences list only its changed genes,
and the number of genes on an arm cannot be read from one case (see :func:`cnv_arm_losses`).

1p is the genes whose ``start_position`` is before the chr1 centromere (GRCh38 acen
121,700,000-125,100,000), 19q the genes after the chr19 centromere (24,200,000-28,100,000).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from mgi.atomic import atomic_path
from mgi.gdc.cases import project_filter

log = logging.getLogger(__name__)

COLUMNS = [
    "case_submitter_id",
    "idh",
    "idh_mutations",
    "codeletion_1p19q",
    "loss_1p",
    "loss_19q",
    "mutation_profiled",  # the case has an open Masked Somatic Mutation file
    "copy_number_profiled",  # ... an open Gene Level Copy Number file
]
IDH_GENES = ("IDH1", "IDH2")
# WHO CNS5 "IDH-mutant" means the hotspots IDH1 R132 / IDH2 R172; other IDH variants are listed
# in idh_mutations but do not make a case mutant.
HOTSPOTS = {"IDH1": "R132", "IDH2": "R172"}
CENTROMERES = {"1": (121_700_000, 125_100_000), "19": (24_200_000, 28_100_000)}  # GRCh38 acen
ARMS = {"1p": ("1", "p"), "19q": ("19", "q")}
LOSSES = {"Loss", "Homozygous Deletion"}  # cnv_change is "Loss" for both; 5-category splits them
CASE_FIELDS = ["case_id", "submitter_id"]
# /files data_type -> the profile a file of that type proves
PROFILE_TYPES = {"Masked Somatic Mutation": "ssm", "Gene Level Copy Number": "cnv"}
FILE_FIELDS = ["file_id", "data_type", "cases.submitter_id"]
# every paged query sorts on its endpoint's unique key (FEAT-120: unsorted pages are unstable)
SORT = {
    "cases": "case_id:asc",
    "files": "file_id:asc",
    "ssm_occurrences": "ssm_occurrence_id:asc",
    "cnv_occurrences": "cnv_occurrence_id:asc",
}
SSM_FIELDS = [
    "case.submitter_id",
    "ssm.ssm_id",
    "ssm.consequence.transcript.gene.symbol",
    "ssm.consequence.transcript.aa_change",
    "ssm.consequence.transcript.is_canonical",
]
CNV_FIELDS = [
    "case.submitter_id",
    "cnv.cnv_change",
    "cnv.cnv_change_5_category",
    "cnv.chromosome",
    "cnv.start_position",
    "cnv.consequence.gene.gene_id",
    "cnv.consequence.gene.symbol",
]


def _in(field: str, values: Iterable[Any]) -> dict[str, Any]:
    return {"op": "in", "content": {"field": field, "value": list(values)}}


def _and(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"op": "and", "content": list(parts)}


def arm_of(chromosome: Any, start: int) -> str | None:
    """``"1p"``/``"19q"`` for a gene starting at ``start`` on ``chromosome``; else None."""
    chrom = str(chromosome).removeprefix("chr")
    if chrom not in CENTROMERES:
        return None
    acen_start, acen_end = CENTROMERES[chrom]
    side = "p" if start < acen_start else "q" if start > acen_end else None
    arm = f"{chrom}{side}" if side else None
    return arm if arm in ARMS else None


def arms_filter() -> dict[str, Any]:
    """GDC filter for genes on 1p or 19q (chromosome + ``start_position`` range)."""
    parts = []
    for chrom, side in ARMS.values():
        acen_start, acen_end = CENTROMERES[chrom]
        op, bound = ("<", acen_start) if side == "p" else (">", acen_end)
        position = {"op": op, "content": {"field": "cnv.start_position", "value": bound}}
        parts.append(_and(_in("cnv.chromosome", [chrom]), position))
    return {"op": "or", "content": parts}


def _malformed(endpoint: str, hit: dict[str, Any], what: str) -> RuntimeError:
    return RuntimeError(f"GDC /{endpoint}: malformed hit {hit.get('id')!r} ({what}): {hit!r:.300}")


def _case_of(endpoint: str, hit: dict[str, Any]) -> str:
    case = hit.get("case")
    barcode = case.get("submitter_id") if isinstance(case, dict) else None
    if not barcode:
        raise _malformed(endpoint, hit, "no case.submitter_id")
    return str(barcode)


def project_cases(client, project: str, *, page_size: int = 500) -> list[str]:
    """Every case barcode of ``project`` (``/cases``), sorted."""
    barcodes: set[str] = set()
    hits = client.search(
        "cases", project_filter(project), CASE_FIELDS, sort=SORT["cases"], page_size=page_size
    )
    for hit in hits:
        barcode = hit.get("submitter_id")
        if not barcode:
            raise _malformed("cases", hit, "no submitter_id")
        barcodes.add(str(barcode))
    if not barcodes:
        raise RuntimeError(f"GDC {client.api_url}: no cases for project {project}")
    return sorted(barcodes)


def profile_filters(project: str) -> dict[str, Any]:
    """GDC filter for ``project``'s open mutation and gene-level copy-number files."""
    return _and(
        _in("cases.project.project_id", [project]),
        _in("files.data_type", PROFILE_TYPES),
        _in("files.access", ["open"]),
    )


def case_profiles(client, project: str, *, page_size: int = 500) -> dict[str, frozenset[str]]:
    """``{barcode: {"ssm", "cnv"}}``: the profiles each case of ``project`` has a file of.

    Cases with no such file are absent. Raises if the project has no file of one of the types
    at all (a renamed data type would otherwise make every case unprofiled).
    """
    profiles: dict[str, set[str]] = {}
    seen = dict.fromkeys(PROFILE_TYPES.values(), 0)
    hits = client.search(
        "files", profile_filters(project), FILE_FIELDS, sort=SORT["files"], page_size=page_size
    )
    for hit in hits:
        kind = PROFILE_TYPES.get(hit.get("data_type"))
        cases = hit.get("cases")
        if kind is None or not isinstance(cases, list):
            raise _malformed("files", hit, "no known data_type or no cases list")
        seen[kind] += 1
        for case in cases:
            barcode = (case or {}).get("submitter_id")
            if not barcode:
                raise _malformed("files", hit, "no cases.submitter_id")
            profiles.setdefault(str(barcode), set()).add(kind)
    missing = [t for t, kind in PROFILE_TYPES.items() if not seen[kind]]
    if missing:
        raise RuntimeError(
            f"GDC {client.api_url} /files: no open {' or '.join(map(repr, missing))} file for "
            f"{project}; cannot tell profiled cases from unprofiled ones"
        )
    log.info("GDC %s: profiled files: %s", project, seen)
    return {barcode: frozenset(kinds) for barcode, kinds in profiles.items()}


def ssm_label(hit: dict[str, Any]) -> str:
    """``"IDH1 R132H"`` for an ``/ssm_occurrences`` hit: the canonical IDH consequence's change."""
    consequences = (hit.get("ssm") or {}).get("consequence")
    if not isinstance(consequences, list):
        raise _malformed("ssm_occurrences", hit, "no ssm.consequence list")
    idh = []
    for item in consequences:
        transcript = (item or {}).get("transcript") or {}
        symbol = (transcript.get("gene") or {}).get("symbol")
        if symbol in IDH_GENES and transcript.get("aa_change"):
            idh.append((symbol, str(transcript["aa_change"]), transcript.get("is_canonical")))
    if not idh:
        raise _malformed("ssm_occurrences", hit, "no IDH1/IDH2 consequence with aa_change")
    symbol, change, _ = next((c for c in idh if c[2] is True), idh[0])
    return f"{symbol} {change}"


def idh_mutations(client, project: str, *, page_size: int = 500) -> dict[str, set[str]]:
    """``{barcode: {"IDH1 R132H", ...}}`` for the cases of ``project`` with an IDH1/2 SSM."""
    filters = _and(
        _in("case.project.project_id", [project]),
        _in("ssm.consequence.transcript.gene.symbol", IDH_GENES),
    )
    found: dict[str, set[str]] = {}
    hits = client.search(
        "ssm_occurrences", filters, SSM_FIELDS, sort=SORT["ssm_occurrences"], page_size=page_size
    )
    for hit in hits:
        found.setdefault(_case_of("ssm_occurrences", hit), set()).add(ssm_label(hit))
    log.info("GDC %s: IDH1/IDH2 mutations in %d cases", project, len(found))
    return found


def _is_hotspot(label: str) -> bool:
    symbol, _, change = label.partition(" ")
    codon = HOTSPOTS.get(symbol)
    return bool(codon) and change.startswith(codon) and not change[len(codon) :][:1].isdigit()


def _cnv_gene(hit: dict[str, Any]) -> tuple[str, str, bool]:
    """(arm or "", gene key, lost) of a ``/cnv_occurrences`` hit; raises if malformed."""
    cnv = hit.get("cnv")
    if not isinstance(cnv, dict):
        raise _malformed("cnv_occurrences", hit, "no cnv")
    try:
        start = int(cnv["start_position"])
        chromosome = cnv["chromosome"]
    except (KeyError, TypeError, ValueError) as err:
        raise _malformed("cnv_occurrences", hit, f"cnv.chromosome/start_position: {err!r}") from err
    change = cnv.get("cnv_change")
    if change is None:  # the 2-category field is the documented one; its 5-category split
        five = cnv.get("cnv_change_5_category")
        change = {"Homozygous Deletion": "Loss", "Amplification": "Gain"}.get(five, five)
    if not change:
        raise _malformed("cnv_occurrences", hit, "no cnv.cnv_change")
    genes = [(c or {}).get("gene") or {} for c in cnv.get("consequence") or []]
    ids = sorted({str(g.get("gene_id") or g.get("symbol")) for g in genes if g})
    key = ids[0] if ids else f"{chromosome}:{start}"  # the gene-level CNV is the gene's span
    return arm_of(chromosome, start) or "", key, change in LOSSES


def cnv_arm_losses(
    client,
    project: str,
    cases: list[str],
    *,
    page_size: int = 2000,
    case_batch: int = 5,
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Genes per arm, and genes lost per arm and case, for ``cases`` (profiled for CNV).

    Pages through ``/cnv_occurrences`` of 1p and 19q genes (any change), ``case_batch`` cases
    per query: one case has at most ~1,800 such genes, so a query stays under 10,000 hits (the
    usual Elasticsearch result window; whether the GDC enforces one on ``from`` is not
    documented). Only the indices of lost genes are kept per case, never the hits.

    Denominator: the distinct genes of the arm seen in ANY case's occurrences of ANY change.
    Neutral genes are not indexed, so one case cannot tell; a ``/genes`` count would rest on a
    gene model that may differ from the indexed one (protein-coding, chr1-22, one release), while
    this union is exactly the indexed gene set wherever at least one of the project's cases has a
    change - for TCGA-LGG every 1p/19q gene, the ~30% co-deleted cases losing both whole arms.
    """
    gene_ids: dict[str, dict[str, int]] = {arm: {} for arm in ARMS}
    lost: dict[str, dict[str, set[int]]] = {}
    wanted = set(cases)
    skipped = 0
    for first in range(0, len(cases), case_batch):
        batch = cases[first : first + case_batch]
        filters = _and(
            _in("case.project.project_id", [project]),
            _in("case.submitter_id", batch),
            arms_filter(),
        )
        hits = client.search(
            "cnv_occurrences",
            filters,
            CNV_FIELDS,
            sort=SORT["cnv_occurrences"],
            page_size=page_size,
        )
        for hit in hits:
            barcode = _case_of("cnv_occurrences", hit)
            arm, key, is_loss = _cnv_gene(hit)
            if not arm or barcode not in wanted:
                skipped += 1
                continue
            index = gene_ids[arm].setdefault(key, len(gene_ids[arm]))
            if is_loss:
                lost.setdefault(barcode, {a: set() for a in ARMS})[arm].add(index)
    if skipped:
        log.warning("GDC /cnv_occurrences: %d hits off 1p/19q or of other cases ignored", skipped)
    totals = {arm: len(ids) for arm, ids in gene_ids.items()}
    if cases and not all(totals.values()):
        raise RuntimeError(
            f"GDC /cnv_occurrences: no gene-level copy-number change on {totals} of {project} "
            f"in {len(cases)} profiled cases; the field names or chromosome spelling may differ"
        )
    log.info("GDC %s: genes in the CNV data: %s", project, totals)
    return totals, {c: {a: len(genes) for a, genes in arms.items()} for c, arms in lost.items()}


def markers_table(
    client,
    project: str,
    *,
    threshold: float = 0.8,
    page_size: int = 2000,
    case_batch: int = 5,
) -> pd.DataFrame:
    """One row per case of ``project``: IDH status and 1p/19q co-deletion (see module doc)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"co-deletion threshold must be in (0, 1], got {threshold}")
    barcodes = project_cases(client, project, page_size=min(page_size, 500))
    profiles = dict.fromkeys(barcodes, frozenset())
    stray_profiles = []
    for barcode, kinds in case_profiles(client, project, page_size=min(page_size, 500)).items():
        if barcode in profiles:
            profiles[barcode] = kinds
        else:
            stray_profiles.append(barcode)
    if stray_profiles:
        log.warning(
            "GDC %s: files of %d cases not in /cases ignored: %s",
            project,
            len(stray_profiles),
            sorted(stray_profiles)[:5],
        )
    mutations = idh_mutations(client, project, page_size=page_size)
    cnv_cases = sorted(c for c, data in profiles.items() if "cnv" in data)
    totals, losses = cnv_arm_losses(
        client, project, cnv_cases, page_size=page_size, case_batch=case_batch
    )
    stray = sorted(set(mutations) - set(profiles))
    if stray:
        log.warning(
            "GDC %s: IDH mutations of %d unknown cases ignored: %s", project, len(stray), stray[:5]
        )
    rows = []
    for barcode in sorted(profiles):
        data = profiles[barcode]
        found = sorted(mutations.get(barcode, ()))
        if any(_is_hotspot(m) for m in found):
            idh = "mutant"
            if "ssm" not in data:
                log.warning("GDC %s: %s has IDH mutations but no mutation file", project, barcode)
        elif "ssm" in data:
            idh = "wildtype"
            if found:
                log.warning("GDC %s: %s: non-hotspot IDH variants %s", project, barcode, found)
        else:
            idh = None
        row = {
            "case_submitter_id": barcode,
            "idh": idh,
            "idh_mutations": ", ".join(found) or None,
            "codeletion_1p19q": None,
            "loss_1p": None,
            "loss_19q": None,
            "mutation_profiled": "ssm" in data,
            "copy_number_profiled": "cnv" in data,
        }
        if "cnv" in data:
            lost = losses.get(barcode, {})
            fraction = {arm: lost.get(arm, 0) / totals[arm] for arm in ARMS}
            row["loss_1p"], row["loss_19q"] = fraction["1p"], fraction["19q"]
            both = all(f >= threshold for f in fraction.values())
            row["codeletion_1p19q"] = "codeleted" if both else "non-codeleted"
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table[["loss_1p", "loss_19q"]] = table[["loss_1p", "loss_19q"]].astype("float64")
    text = ["case_submitter_id", "idh", "idh_mutations", "codeletion_1p19q"]
    table[text] = table[text].astype("string")
    log.info(
        "GDC %s: markers of %d cases: idh %s; 1p/19q %s",
        project,
        len(table),
        table["idh"].value_counts(dropna=False).to_dict(),
        table["codeletion_1p19q"].value_counts(dropna=False).to_dict(),
    )
    return table


def write_markers(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the markers table to Parquet, atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        table.to_parquet(tmp, index=False)
    return out
