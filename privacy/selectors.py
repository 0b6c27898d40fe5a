"""Reads of the report-access audit (for the admin page, its CSV and the API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Q, QuerySet

from privacy.models import ReportAccess
from privacy.services.access_audit import report_ids_contain


@dataclass(frozen=True)
class AccessFilter:
    user: str = ""  # username (exact, case-insensitive)
    report: str = ""  # report id or external id
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    channel: str = ""


def report_access_channels() -> list[str]:
    return list(ReportAccess.objects.order_by("channel").values_list("channel", flat=True).distinct())


def _report_pk(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    # privacy sits below labeling (labeling records accesses), so the Report
    # table is looked up through the app registry rather than imported.
    report_model = apps.get_model("labeling", "Report")
    pk = report_model.objects.filter(external_id=value).values_list("id", flat=True).first()
    if pk is None and value.isdigit():
        pk = int(value)
    return pk if pk is not None else -1


def report_accesses_filter(*, f: AccessFilter) -> QuerySet[ReportAccess]:
    """Audit rows matching `f`, newest first. A report filter matches single-report
    rows by index and multi-report rows (exports) by their id ranges."""
    qs = ReportAccess.objects.all().order_by("-at", "-id")
    if f.user:
        qs = qs.filter(username__iexact=f.user.strip())
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.date_from:
        qs = qs.filter(at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(at__date__lte=f.date_to)
    pk = _report_pk(f.report)
    if pk is not None:
        # Multi-report rows are few (exports, the flags page): check their ranges here.
        multi = [row_id for row_id, ranges in qs.filter(report_count__gt=1).values_list("id", "report_ids")
                 if report_ids_contain(ranges, pk)]
        qs = qs.filter(Q(report_id=pk) | Q(id__in=multi))
    return qs


def report_accesses_iter(*, f: AccessFilter, chunk_size: int = 2000) -> Iterator[ReportAccess]:
    return report_accesses_filter(f=f).iterator(chunk_size=chunk_size)
