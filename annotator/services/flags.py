"""Flags on reports (not a chest X-ray report, identifiers...) and their resolution."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator import selectors
from annotator.errors import ReviewError
from annotator.models import Flag
from annotator.services.assignment import priority_open_recompute
from labeling.models import Report, Reservation
from labeling.services.flags import report_flagged_set


# --- flags ----------------------------------------------------------------------------------
def report_flag(*, report: Report, user: User, reason: str, note: str = "") -> Flag:
    """Flag a report: it leaves queues, gold and training until an admin resolves it."""
    if reason not in Flag.Reason.values:
        raise ReviewError(f"Unknown flag reason {reason!r}.")
    if reason == Flag.Reason.OTHER and not note.strip():
        raise ReviewError("Say why you flag the report.")
    with transaction.atomic():
        flag = Flag.objects.create(report=report, raised_by=user, reason=reason, note=note.strip())
        report_flagged_set(report_id=report.id, flagged=True)
        priority_open_recompute(report_id=report.id)
        # Release everyone's reservations so the report stops counting toward k.
        Reservation.objects.filter(report=report, state=Reservation.State.ACTIVE).delete()
    return flag


@transaction.atomic
def flag_resolve(*, flag: Flag, admin: User, resolution: str, note: str = "") -> Flag:
    """Resolve a flag: `keep` returns the report to queues/gold/training, `exclude` keeps it out."""
    if resolution not in (Flag.Resolution.KEEP, Flag.Resolution.EXCLUDE):
        raise ReviewError("Resolution must be keep or exclude.")
    flag = Flag.objects.select_for_update().get(id=flag.id)
    if flag.resolution:
        raise ReviewError("This flag is already resolved.")
    flag.resolution = resolution
    flag.resolved_by = admin
    flag.resolved_at = timezone.now()
    flag.resolution_note = note.strip()
    flag.save()
    report_flagged_set(report_id=flag.report_id, flagged=selectors.report_flag_state(report_id=flag.report_id))
    priority_open_recompute(report_id=flag.report_id)
    return flag
