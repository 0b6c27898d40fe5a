"""Project-wide review settings (k, reservation time, queue order, first read, re-reads)."""

from __future__ import annotations

from django.db import transaction

from annotator import selectors
from annotator.errors import ReviewError
from annotator.models import ReviewSettings
from api.request_memo import forgets
from labeling.models import RuntimeSettings
from labeling.selectors import runtime_settings_get


@forgets("runtime_settings", "review_settings")
@transaction.atomic
def review_settings_update(
    *,
    reads_per_report: int,
    reservation_minutes: int,
    queue_order: str,
    auto_gold: bool,
    prefill: str,
    allow_rereads: bool,
    anonymise_readers: bool,
    reread_percent: int | None = None,
    readers_see_study_metadata: bool | None = None,
) -> tuple[RuntimeSettings, ReviewSettings]:
    if reads_per_report < 1:
        raise ReviewError("Each report needs at least one read.")
    if reservation_minutes < 1:
        raise ReviewError("Reservations last at least one minute.")
    if queue_order not in RuntimeSettings.QueueOrder.values:
        raise ReviewError(f"Unknown queue order {queue_order!r}.")
    runtime = runtime_settings_get()
    runtime.reads_per_report = reads_per_report
    runtime.reservation_minutes = reservation_minutes
    runtime.queue_order = queue_order
    runtime.auto_gold = auto_gold
    runtime.save()
    review = selectors.review_settings_get()
    if prefill not in RuntimeSettings.Prefill.values:
        raise ReviewError(f"Unknown pre-fill mode {prefill!r}.")
    runtime.prefill = prefill
    runtime.save()
    review.allow_rereads = allow_rereads
    if reread_percent is not None:
        if not 0 <= reread_percent <= 100:
            raise ReviewError("The re-read share is a percentage between 0 and 100.")
        review.reread_percent = reread_percent
    review.anonymise_readers = anonymise_readers
    if readers_see_study_metadata is not None:
        review.readers_see_study_metadata = readers_see_study_metadata
    review.save()
    return runtime, review

