"""Report lists for the API: status of each report (unread, in review, gold,
flagged) and filters by status, machine label and rule/model disagreement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.contrib.auth.models import User
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import Combinable
from django.utils import timezone

from labeling.models import Annotation, GoldLabel, MachinePrediction, Report, Reservation
from labeling.selectors import active_model_version_get, latest_rules_version

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

REPORT_STATUSES = ("unread", "in_review", "gold", "flagged")


class _StatusAnnotations(TypedDict):
    has_gold: bool
    has_reads: bool
    flagged: bool


ReportWithStatus: TypeAlias = "WithAnnotations[Report, _StatusAnnotations]"  # a Report from `reports_with_status`


def reports_with_status(*, gold_hidden: QuerySet[Report, Any] | None = None) -> QuerySet[ReportWithStatus]:
    """Reports with their status. `gold_hidden` (a subquery of {"id": ...} rows):
    reports shown as in review although gold (a reader's reports whose gold is not
    released to them, `access.reports_visible`)."""
    now = timezone.now()
    gold = GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)
    # Calibration reads and reservations are not reads of the work (progress).
    reads: Q | Combinable = Exists(Annotation.objects.filter(report_id=OuterRef("pk"), is_calibration=False)) | Exists(
        Reservation.objects.filter(report_id=OuterRef("pk"), state=Reservation.State.ACTIVE, expires_at__gt=now, is_calibration=False)
    )
    if gold_hidden is not None:
        gold = gold.exclude(report_id__in=gold_hidden)
        reads = reads | Exists(Report.objects.filter(pk=OuterRef("pk"), pk__in=gold_hidden))
    return Report.objects.annotate(
        has_gold=Exists(gold),
        has_reads=reads,
        flagged=F("is_flagged"),
    )


def report_status(report: ReportWithStatus) -> str:
    """Status of a report annotated by `reports_with_status`."""
    if report.flagged:
        return "flagged"
    if report.has_gold:
        return "gold"
    if report.has_reads:
        return "in_review"
    return "unread"


def reports_filter(
    qs: QuerySet[ReportWithStatus],
    *,
    status: str | None = None,
    observation: str | None = None,
    value: str | None = None,
    source: str = "rules",
    disagreement: bool | None = None,
) -> QuerySet[ReportWithStatus]:
    """Filter by status, by a machine label (`observation` = `value` from `source`
    rules or the active model), and by rule/model disagreement."""
    if status == "flagged":
        qs = qs.filter(flagged=True)
    elif status == "gold":
        qs = qs.filter(flagged=False, has_gold=True)
    elif status == "in_review":
        qs = qs.filter(flagged=False, has_gold=False, has_reads=True)
    elif status == "unread":
        qs = qs.filter(flagged=False, has_gold=False, has_reads=False)
    if observation and value:
        qs = qs.filter(Exists(_predictions(source).filter(report_id=OuterRef("pk"), **{f"labels__{observation}": value})))
    if disagreement is not None:
        if latest_rules_version() is None or active_model_version_get() is None:
            return qs.none() if disagreement else qs
        # Rows of the current basis, kept by `services.report_priorities_refresh`
        # (the caller refreshes first): reports labelled by both the latest rules
        # and the active model, differing (True) or not (False) on some observation.
        qs = qs.filter(priority__rules_vs_model=disagreement)
    return qs


def _predictions(source: str) -> QuerySet[MachinePrediction]:
    if source == "model":
        model = active_model_version_get()
        return MachinePrediction.objects.filter(model_version=model) if model else MachinePrediction.objects.none()
    rules = latest_rules_version()
    return MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES, source_version=rules or "")


def annotations_of_reader(*, reader: User) -> QuerySet[Annotation]:
    """The reader's own annotations (never anyone else's), newest first."""
    return Annotation.objects.filter(reader=reader).select_related("report").order_by("-updated_at", "-id")
