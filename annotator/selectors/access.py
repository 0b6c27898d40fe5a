"""Reader blinding: what a user may see of a report and of its reads.

One policy, decided here and nowhere else: every page, API view, export and
statistic that shows a report or a read to a user asks these functions."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, QuerySet

from accounts.roles import Role
from annotator.models import Reservation
from annotator.selectors.flags import report_is_flagged
from annotator.selectors.reports import ReportWithStatus, reports_with_status
from labeling.models import (
    Annotation,
    GoldLabel,
    Report,
)


# --- blinding: what a reader may see ------------------------------------------
def report_for_reader(*, reader: User, report_id: int) -> Report | None:
    """The report if `reader` was handed it (reservation) or has read it; else None.

    Flagged reports are hidden from review."""
    visible = Report.objects.filter(id=report_id).filter(
        Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, state=Reservation.State.ACTIVE))
        | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader))
    )
    report = visible.first()
    if report is None or report_is_flagged(report_id=report.id):
        return None
    return report


def annotation_of_reader(*, reader: User, report: Report) -> Annotation | None:
    """The reader's own annotation of `report` (never anyone else's)."""
    return Annotation.objects.filter(report=report, reader=reader).first()


def annotation_visible_get(*, user: User, annotation_id: int) -> Annotation | None:
    """An annotation by id, only for its own reader. Callers answer 404 on None."""
    return Annotation.objects.filter(id=annotation_id, reader=user).first()


def gold_feedback_for_reader(*, reader: User, report: Report) -> GoldLabel | None:
    """The current gold labels, only once the report is gold and `reader` submitted a read."""
    if not Annotation.objects.filter(report=report, reader=reader, status=Annotation.Status.SUBMITTED).exists():
        return None
    return GoldLabel.objects.filter(report=report, is_current=True).first()


def reports_visible(*, user: User, roles: frozenset[Role]) -> QuerySet[ReportWithStatus]:
    """Reports `user` may list: everything for admins and adjudicators; for a
    reader only reports reserved for them or read by them, never flagged ones."""
    qs = reports_with_status()
    if roles & {Role.ADMIN, Role.ADJUDICATOR}:
        return qs.order_by("id")
    if Role.READER in roles:
        mine = Exists(
            Reservation.objects.filter(report_id=OuterRef("pk"), reader=user, state=Reservation.State.ACTIVE)
        ) | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=user))
        return qs.filter(mine).filter(is_flagged=False).order_by("id")
    return qs.none()
