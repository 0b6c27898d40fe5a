"""The adjudication queue and what an adjudicator sees of a report's reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User

from annotator.selectors.access import adjudication_access, reports_adjudicable_by
from annotator.selectors.review_settings import review_settings_get
from labeling.models import (
    Annotation,
    GoldLabel,
    Report,
)
from labeling.observations import OBSERVATION_NAMES, LabelDict


# --- adjudication ------------------------------------------------------------------
def conflicting_observations(label_sets: Iterable[LabelDict]) -> list[str]:
    """Observations on which the given label sets do not all agree (CheXpert order)."""
    sets = list(label_sets)
    return [name for name in OBSERVATION_NAMES if len({s.get(name) for s in sets}) > 1]


@dataclass(frozen=True)
class AdjudicationItem:
    report_id: int
    external_id: str
    reads: int
    conflicts: int
    is_gold: bool = False


def adjudication_queue(*, adjudicator: User) -> list[AdjudicationItem]:
    """Reports awaiting adjudication (`access.reports_awaiting_adjudication`) that
    `adjudicator` neither reads nor holds, most conflicting observations first."""
    ids = dict(reports_adjudicable_by(user=adjudicator).values_list("id", "external_id"))
    labels_by_report: dict[int, list[LabelDict]] = {}
    for report_id, labels in Annotation.objects.filter(report_id__in=list(ids), status=Annotation.Status.SUBMITTED, is_calibration=False).values_list("report_id", "labels"):
        labels_by_report.setdefault(report_id, []).append(labels)
    items = [
        AdjudicationItem(rid, ids[rid], len(sets), len(conflicting_observations(sets))) for rid, sets in labels_by_report.items()
    ]
    items.sort(key=lambda i: (-i.conflicts, i.report_id))
    return items


@dataclass(frozen=True)
class AdjudicationRead:
    label: str  # "Reader A" (or the username when anonymisation is off)
    labels: LabelDict
    annotation_id: int


@dataclass(frozen=True)
class AdjudicationView:
    report: Report
    reads: list[AdjudicationRead]
    conflicts: list[str]
    current_gold: GoldLabel | None


def adjudication_view_get(*, adjudicator: User, report_id: int) -> AdjudicationView | None:
    """Submitted reads of a report for an adjudicator allowed to see them
    (`access.adjudication_access`); None otherwise (callers answer 404)."""
    report = Report.objects.filter(id=report_id).first()
    if report is None or not adjudication_access(user=adjudicator, report=report).allowed:
        return None
    annotations = list(
        Annotation.objects.filter(report=report, status=Annotation.Status.SUBMITTED, is_calibration=False).select_related("reader").order_by("submitted_at", "id")
    )
    if not annotations:
        return None
    anonymise = review_settings_get().anonymise_readers
    reads = [
        AdjudicationRead(
            label=f"Reader {chr(ord('A') + i)}" if anonymise or i >= 26 else a.reader.get_username(),
            labels=a.labels,
            annotation_id=a.id,
        )
        for i, a in enumerate(annotations)
    ]
    return AdjudicationView(
        report=report,
        reads=reads,
        conflicts=conflicting_observations(r.labels for r in reads),
        current_gold=GoldLabel.objects.filter(report=report, is_current=True).first(),
    )
