"""The adjudication queue and what an adjudicator sees of a report's reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef

from accounts.roles import Role
from accounts.selectors import user_roles
from annotator.selectors.flags import unflagged_reports
from annotator.selectors.review_settings import review_settings_get
from labeling.models import (
    Annotation,
    GoldLabel,
    Report,
)
from labeling.observations import OBSERVATION_NAMES, LabelDict
from labeling.selectors import runtime_settings_get


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
    """Reports with k submitted reads, no gold, not flagged and not read by
    `adjudicator`, most conflicting observations first."""
    k = runtime_settings_get().reads_per_report
    ready = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .values("report_id")
        .annotate(n=Count("id"))
        .filter(n__gte=k)
        .values("report_id")
    )
    reports = (
        unflagged_reports(Report.objects.filter(id__in=ready))
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=adjudicator)))
        .values_list("id", "external_id")
    )
    ids = dict(reports)
    labels_by_report: dict[int, list[LabelDict]] = {}
    for report_id, labels in Annotation.objects.filter(report_id__in=list(ids), status=Annotation.Status.SUBMITTED).values_list("report_id", "labels"):
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


def user_may_adjudicate(*, user: User, report: Report) -> bool:
    if Role.ADJUDICATOR not in user_roles(user=user):
        return False
    return not Annotation.objects.filter(report=report, reader=user).exists()


def adjudication_view_get(*, adjudicator: User, report_id: int) -> AdjudicationView | None:
    """Submitted reads of a report for an adjudicator who did not read it; None otherwise."""
    report = unflagged_reports().filter(id=report_id).first()
    if report is None or not user_may_adjudicate(user=adjudicator, report=report):
        return None
    annotations = list(
        Annotation.objects.filter(report=report, status=Annotation.Status.SUBMITTED).select_related("reader").order_by("submitted_at", "id")
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
