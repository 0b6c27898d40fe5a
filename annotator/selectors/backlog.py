"""How much review work is waiting: counts for the operations metrics (`/metrics`)."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef

from annotator.selectors.access import reports_awaiting_adjudication
from labeling.models import Annotation, GoldLabel, Report
from labeling.selectors import runtime_settings_get


def reports_awaiting_reads_count() -> int:
    """Unflagged reports without current gold that have fewer than k submitted reads
    (the readers' backlog; k from the runtime settings)."""
    k = runtime_settings_get().reads_per_report
    read_enough = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .values("report_id")
        .annotate(n=Count("id"))
        .filter(n__gte=k)
        .values("report_id")
    )
    return (
        Report.objects.filter(is_flagged=False)
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .exclude(id__in=read_enough)
        .count()
    )


def reports_awaiting_adjudication_count() -> int:
    """Size of the adjudication queue (`access.reports_awaiting_adjudication`, the one predicate)."""
    return reports_awaiting_adjudication().count()
