"""``mgi gdc status --markers``: one small live request per endpoint the markers stage uses.

Each request is the markers stage's own (same filters, fields and sort, ``size`` 1); the check
passes when it finds a hit and the hit holds every field the stage reads. Run it before a long
run: a renamed field or data type shows here in seconds instead of as a wrong Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mgi.gdc.cases import project_filter
from mgi.gdc.markers import (
    CASE_FIELDS,
    CNV_FIELDS,
    FILE_FIELDS,
    IDH_GENES,
    PROFILE_TYPES,
    SORT,
    SSM_FIELDS,
    _and,
    _in,
    arms_filter,
    profile_filters,
)

# fields a hit must hold (the others the stage asks for are optional)
REQUIRED = {
    "cases": ["submitter_id"],
    "files": ["data_type", "cases.submitter_id"],
    "ssm_occurrences": [
        "case.submitter_id",
        "ssm.consequence.transcript.gene.symbol",
        "ssm.consequence.transcript.aa_change",
    ],
    "cnv_occurrences": [
        "case.submitter_id",
        "cnv.cnv_change",
        "cnv.chromosome",
        "cnv.start_position",
        "cnv.consequence.gene.gene_id",
    ],
}


@dataclass(frozen=True)
class Check:
    endpoint: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"  /{self.endpoint}: {'OK' if self.ok else 'FAILED'} ({self.detail})"


def values(doc: Any, dotted: str) -> list[Any]:
    """The values at the dotted path in ``doc`` (lists walked)."""
    items = [doc]
    for key in dotted.split("."):
        nxt: list[Any] = []
        for item in items:
            for one in item if isinstance(item, list) else [item]:
                if isinstance(one, dict) and one.get(key) is not None:
                    nxt.append(one[key])
        items = nxt
    return [v for item in items for v in (item if isinstance(item, list) else [item])]


def queries(project: str) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Endpoint -> (filters, fields) of the markers stage."""
    return {
        "cases": (project_filter(project), CASE_FIELDS),
        "files": (profile_filters(project), FILE_FIELDS),
        "ssm_occurrences": (
            _and(
                _in("case.project.project_id", [project]),
                _in("ssm.consequence.transcript.gene.symbol", IDH_GENES),
            ),
            SSM_FIELDS,
        ),
        "cnv_occurrences": (
            _and(_in("case.project.project_id", [project]), arms_filter()),
            CNV_FIELDS,
        ),
    }


def check_markers_api(client, project: str) -> list[Check]:
    """One :class:`Check` per endpoint; network and HTTP errors raise (``GDCError``)."""
    out = []
    for endpoint, (filters, fields) in queries(project).items():
        hits = client.search(endpoint, filters, fields, sort=SORT[endpoint], page_size=1)
        hit = next(iter(hits), None)
        if hit is None:
            out.append(Check(endpoint, False, f"no hit for {project}"))
            continue
        missing = [f for f in REQUIRED[endpoint] if not values(hit, f)]
        if endpoint == "files" and hit.get("data_type") not in PROFILE_TYPES:
            missing.append(f"data_type in {sorted(PROFILE_TYPES)}")
        if missing:
            out.append(Check(endpoint, False, f"missing {', '.join(missing)}"))
        else:
            out.append(Check(endpoint, True, ", ".join(REQUIRED[endpoint])))
    return out
