"""Calibration reports: admins mark gold reports, set the rate and open and end
calibration periods; `calibration_next_assign` serves them unannounced among
normal work. Calibration reads are Annotations with `is_calibration`: they never
change gold and never count (k, agreement, auto-gold, acceptance, progress)."""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator import selectors
from annotator.errors import ReviewError
from annotator.models import CalibrationReport, ReviewSettings
from api.request_memo import forgets
from labeling.models import CalibrationPeriod, GoldLabel, Report, Reservation


def calibration_report_mark(*, report: Report, admin: User) -> CalibrationReport:
    """Make a gold report a calibration report (again, if it was one)."""
    if not GoldLabel.objects.filter(report=report, is_current=True).exists():
        raise ReviewError("Only gold reports can be calibration reports.")
    if report.is_flagged:
        raise ReviewError("A flagged report cannot be a calibration report.")
    row, created = CalibrationReport.objects.get_or_create(report=report, defaults={"marked_by": admin})
    if not created and not row.is_active:
        row.is_active = True
        row.marked_by = admin
        row.save(update_fields=["is_active", "marked_by"])
    return row


def calibration_report_unmark(*, report: Report) -> None:
    """Stop serving a report for calibration (reads already made stay measured)."""
    CalibrationReport.objects.filter(report=report).update(is_active=False)


@forgets("review_settings")
def calibration_rate_set(*, every: int) -> ReviewSettings:
    """About one in `every` next-report requests gets a calibration report (0 = off)."""
    if every < 0:
        raise ReviewError("The calibration rate is 'one in N' with N >= 0 (0 = off).")
    review = selectors.review_settings_get()
    review.calibration_every = every
    review.save(update_fields=["calibration_every", "updated_at"])
    return review


@transaction.atomic
def calibration_period_start(*, admin: User, now: dt.datetime | None = None) -> CalibrationPeriod:
    """Open a calibration period (at most one is open)."""
    ReviewSettings.objects.select_for_update().filter(singleton=1).first()  # serialise starts
    if selectors.calibration_period_open() is not None:
        raise ReviewError("A calibration period is already open; end it first.")
    return CalibrationPeriod.objects.create(started_at=now or timezone.now(), started_by=admin)


@transaction.atomic
def calibration_period_end(*, admin: User, now: dt.datetime | None = None) -> CalibrationPeriod:
    """End the open period: readers now see gold feedback on its calibration reads.
    Calibration reports still held (not submitted) are taken back."""
    period = CalibrationPeriod.objects.select_for_update().filter(ended_at__isnull=True).first()
    if period is None:
        raise ReviewError("No calibration period is open.")
    period.ended_at = now or timezone.now()
    period.ended_by = admin
    period.save(update_fields=["ended_at", "ended_by"])
    Reservation.objects.filter(is_calibration=True, state=Reservation.State.ACTIVE).delete()
    return period


def calibration_next_assign(*, reader: User, now: dt.datetime, expires: dt.datetime,
                            rng: random.Random | None = None) -> int | None:
    """Called by `next_report_assign` inside its transaction: about one time in
    `calibration_every`, while a period is open, reserve a calibration report
    for `reader` (one they never read, held or adjudicated). Returns its id or
    None (then the reader gets normal work)."""
    every = selectors.review_settings_get().calibration_every
    if every <= 0 or selectors.calibration_period_open() is None:
        return None
    if (rng or random).random() * every >= 1:
        return None
    report_id = selectors.calibration_candidates_for(reader=reader).order_by("?").values_list("report_id", flat=True).first()
    if report_id is None:
        return None
    Reservation.objects.create(report_id=report_id, reader=reader, state=Reservation.State.ACTIVE, expires_at=expires,
                               created_at=now, is_calibration=True)
    return report_id
