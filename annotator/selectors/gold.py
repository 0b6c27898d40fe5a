"""Gold-set versions: list, size, comparison."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from labeling.models import (
    GoldLabel,
    GoldSetMembership,
    GoldSetVersion,
)
from labeling.observations import OBSERVATION_NAMES, LabelDict


# --- gold-set versions -------------------------------------------------------------
def gold_set_versions() -> QuerySet[GoldSetVersion]:
    return GoldSetVersion.objects.select_related("created_by").annotate(size=Count("goldsetmembership")).order_by("-created_at")


def gold_current_count() -> int:
    return GoldLabel.objects.filter(is_current=True).count()


@dataclass(frozen=True)
class GoldLabelChange:
    report_id: int
    external_id: str
    changes: list[tuple[str, str, str]]  # (observation, value in a, value in b)


@dataclass(frozen=True)
class GoldSetComparison:
    a: GoldSetVersion
    b: GoldSetVersion
    added: list[str]  # external ids only in b
    removed: list[str]  # external ids only in a
    changed: list[GoldLabelChange]
    unchanged: int


def gold_set_versions_compare(*, a: GoldSetVersion, b: GoldSetVersion) -> GoldSetComparison:
    """Which reports entered, left or changed labels between versions a and b."""

    def load(version: GoldSetVersion) -> dict[int, tuple[str, LabelDict]]:
        rows = GoldSetMembership.objects.filter(version=version).values_list("report_id", "report__external_id", "gold_label__labels")
        return {rid: (ext, labels) for rid, ext, labels in rows}

    left, right = load(a), load(b)
    added = sorted(right[r][0] for r in right.keys() - left.keys())
    removed = sorted(left[r][0] for r in left.keys() - right.keys())
    changed, unchanged = [], 0
    for rid in sorted(left.keys() & right.keys()):
        la, lb = left[rid][1], right[rid][1]
        diff = [(name, la.get(name, ""), lb.get(name, "")) for name in OBSERVATION_NAMES if la.get(name) != lb.get(name)]
        if diff:
            changed.append(GoldLabelChange(rid, left[rid][0], diff))
        else:
            unchanged += 1
    return GoldSetComparison(a, b, added, removed, changed, unchanged)


def gold_history_of_report(*, report_id: int) -> list[GoldLabel]:
    """Every gold row of a report, oldest first (agreement, adjudications with their
    rationale, corrections, imports): its provenance. For adjudicators and admins
    only; readers get feedback through `access.gold_feedback_for_reader`."""
    return list(GoldLabel.objects.filter(report_id=report_id).select_related("adjudicator").order_by("created_at", "id"))
