"""Which reports are flagged (out of queues, gold and training), and the flag lists."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from annotator.models import Flag
from labeling.models import (
    Report,
)


# --- flags (other apps: exclude these from gold and training) --------------
def _flags_keeping_report_out_q() -> Q:
    # Open flags and flags resolved as "exclude" keep a report out.
    return Q(resolution__in=[Flag.Resolution.OPEN, Flag.Resolution.EXCLUDE])


def flagged_report_ids() -> set[int]:
    """Ids of reports that must stay out of queues, gold and training: flagged, or of a withdrawn import."""
    return set(Report.objects.filter(Q(is_flagged=True) | Q(is_withdrawn=True)).values_list("id", flat=True))


def flagged_report_ids_subquery() -> QuerySet[Report, object]:  # rows are {"id": ...}
    """The same set as a subquery: ``Report.objects.exclude(id__in=flagged_report_ids_subquery())``."""
    return Report.objects.filter(Q(is_flagged=True) | Q(is_withdrawn=True)).values("id")


def unflagged_reports(qs: QuerySet[Report] | None = None) -> QuerySet[Report]:
    """`qs` (default: all reports) without flagged reports."""
    base = Report.objects.all() if qs is None else qs
    return base.filter(is_flagged=False, is_withdrawn=False)


def report_is_flagged(*, report_id: int) -> bool:
    return Report.objects.filter(Q(is_flagged=True) | Q(is_withdrawn=True), id=report_id).exists()


def report_flag_state(*, report_id: int) -> bool:
    """Whether the report's flags keep it out (an open flag, or one resolved as
    "exclude"); the flag services store this on `Report.is_flagged`."""
    return Flag.objects.filter(_flags_keeping_report_out_q(), report_id=report_id).exists()


def flags_open() -> QuerySet[Flag]:
    return Flag.objects.filter(resolution=Flag.Resolution.OPEN).select_related("report", "raised_by").order_by("created_at")


def flags_recently_resolved(*, limit: int = 20) -> QuerySet[Flag]:
    return Flag.objects.exclude(resolution=Flag.Resolution.OPEN).select_related("report", "raised_by", "resolved_by").order_by(
        "-resolved_at"
    )[:limit]
