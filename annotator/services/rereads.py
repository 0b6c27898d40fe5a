"""Deliberate re-reads for intra-reader reliability: handed out by share, stored apart."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator import selectors
from annotator.errors import NotAllowed, ReviewError
from annotator.models import Reread
from annotator.services.base import full_labels
from annotator.services.reads import time_spent_clamp
from labeling.models import Annotation, Report

# --- deliberate re-reads (intra-reader reliability) -------------------------------
REREAD_MIN_AGE = dt.timedelta(days=1)


def reread_next_assign(*, reader: User, rng: random.Random | None = None,
                       now: dt.datetime | None = None) -> Report | None:
    """With re-reads on, hand `reader` one of their own submitted reads (at least
    REREAD_MIN_AGE old, not flagged, not re-read yet) to read again, about
    `reread_percent` times in 100; a pending re-read is handed back first.
    Returns None when the reader should get a normal report."""
    review = selectors.review_settings_get()
    if not review.allow_rereads:
        return None
    pending = Reread.objects.filter(reader=reader, submitted_at__isnull=True, report__is_flagged=False, report__is_withdrawn=False).first()
    if pending is not None:
        return pending.report
    if (rng or random).random() * 100 >= review.reread_percent:
        return None
    now = now or timezone.now()
    report_id = (
        Annotation.objects.filter(reader=reader, status=Annotation.Status.SUBMITTED, submitted_at__lte=now - REREAD_MIN_AGE,
                                  report__is_flagged=False, report__is_withdrawn=False, is_calibration=False)
        .exclude(report__rereads__reader=reader)
        .order_by("?")
        .values_list("report_id", flat=True)
        .first()
    )
    if report_id is None:
        return None
    reread, _ = Reread.objects.get_or_create(report_id=report_id, reader=reader)
    return reread.report


def reread_submit(*, reader: User, report: Report, labels: Mapping[str, str],
                  time_spent_seconds: float | None = None) -> Reread:
    """Store a re-read. The reader's first read (their Annotation) is untouched."""
    values = full_labels(labels)
    with transaction.atomic():
        reread = Reread.objects.select_for_update().filter(report=report, reader=reader).first()
        if reread is None:
            raise NotAllowed("This report was not handed to you for a re-read.")
        if reread.submitted_at is not None:
            raise ReviewError("You already submitted this re-read.")
        reread.labels = values
        reread.time_spent_seconds = time_spent_clamp(time_spent_seconds) or 0.0
        reread.submitted_at = timezone.now()
        reread.save()
    return reread
