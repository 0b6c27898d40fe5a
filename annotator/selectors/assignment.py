"""What a reader may be handed next, and the reader's queue summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.selectors.access import reader_gold_visible, user_stand_in
from annotator.selectors.flags import unflagged_reports
from api.compiled_queries import CompiledQuery, Slots
from labeling.models import (
    Annotation,
    GoldLabel,
    Report,
    Reservation,
    RuntimeSettings,
)
from labeling.selectors import annotations_released, runtime_settings_get


# --- assignment ----------------------------------------------------------------
def _live_reservations(now: dt.datetime) -> QuerySet[Reservation]:
    return Reservation.objects.filter(state=Reservation.State.ACTIVE, expires_at__gt=now)


def _read_load_query(slots: Slots, *, excluding: bool) -> QuerySet[Any, Any]:
    report_id = slots.int("report_id")
    submitted = Annotation.objects.filter(report_id=report_id, status=Annotation.Status.SUBMITTED, is_calibration=False)
    live = _live_reservations(slots.datetime("now")).filter(report_id=report_id, is_calibration=False)
    if excluding:
        submitted = submitted.exclude(reader_id=slots.int("exclude_reader_id"))
        live = live.exclude(reader_id=slots.int("exclude_reader_id"))
    # A reader's reservation is deleted when they submit, so nothing counts twice.
    # Both counts in one statement (a fresh one: called after a row lock, it sees commits since).
    return Report.objects.filter(id=report_id).annotate(
        submitted=_count_subquery(submitted.filter(report_id=OuterRef("pk"))),
        live=_count_subquery(live.filter(report_id=OuterRef("pk"))),
    ).values_list("submitted", "live")[:1]


_READ_LOAD = CompiledQuery("annotator.report_read_load", _read_load_query)


def report_read_load(*, report_id: int, now: dt.datetime | None = None, exclude_reader: User | None = None) -> int:
    """Submitted reads + live reservations of a report: what counts toward k
    (calibration reads and reservations never do)."""
    now = now or timezone.now()
    if exclude_reader is None:
        rows = _READ_LOAD.run({"excluding": False}, report_id=report_id, now=now)
    else:
        rows = _READ_LOAD.run({"excluding": True}, report_id=report_id, now=now, exclude_reader_id=exclude_reader.pk)
    return rows[0][0] + rows[0][1] if rows else 0  # no such report: nothing counts


def read_is_used(*, annotation: Annotation) -> bool:
    """A submitted read is "used" once its report has gold (any row, current or
    superseded) or has k submitted reads (gold by agreement or sent to
    adjudication): from then on the reader may not reopen it.

    A calibration read is used once its gold is released to its reader (the
    period has ended and feedback is due, `labeling.selectors.annotations_released`):
    its report is gold before it is served, and closing the read at once would
    tell the reader so."""
    if annotation.is_calibration:
        return annotations_released().filter(id=annotation.id).exists()
    report_id = annotation.report_id
    if GoldLabel.objects.filter(report_id=report_id).exists():
        return True
    submitted = Annotation.objects.filter(report_id=report_id, status=Annotation.Status.SUBMITTED, is_calibration=False).count()
    return submitted >= runtime_settings_get().reads_per_report


def _count_subquery(qs: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(qs.order_by().values("report_id").annotate(c=Count("id")).values("c")[:1], output_field=IntegerField()),
        Value(0),
    )


def assignable_reports(*, reader: User, now: dt.datetime | None = None, order: str | None = None) -> QuerySet[Report]:
    """Reports `reader` may be handed next, in queue order.

    Excludes gold and flagged reports, reports with k reads (submitted + live
    reservations), and reports the reader already read, holds or skipped."""
    now = now or timezone.now()
    settings_row = runtime_settings_get()
    return _assignable(reader=reader, now=now, k=settings_row.reads_per_report, order=order or settings_row.queue_order)


def _assignable(*, reader: User, now: dt.datetime, k: int, order: str) -> QuerySet[Report]:
    load = _count_subquery(
        Annotation.objects.filter(report_id=OuterRef("pk"), status=Annotation.Status.SUBMITTED, is_calibration=False)
    ) + _count_subquery(_live_reservations(now).filter(report_id=OuterRef("pk"), is_calibration=False))
    qs = (
        unflagged_reports()
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .exclude(Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, state=Reservation.State.SKIPPED)))
        .exclude(Exists(_live_reservations(now).filter(report_id=OuterRef("pk"), reader=reader)))
    )
    # Never the same report twice here; deliberate re-reads are handed out by
    # `services.reread_next_assign` and stored apart (annotator.Reread).
    qs = qs.exclude(Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader, status=Annotation.Status.SUBMITTED)))
    qs = qs.alias(load=load).filter(load__lt=k)
    return _ordered(qs, order)


def _first_assignable_query(slots: Slots, *, order: str, k: int, skip_locked: bool | None) -> QuerySet[Report]:
    reader = user_stand_in(slots.int("reader_id"))
    qs = _assignable(reader=reader, now=slots.datetime("now"), k=k, order=order)
    if skip_locked is not None:
        qs = qs.select_for_update(skip_locked=skip_locked, of=("self",))
    return qs[:1]


_FIRST_ASSIGNABLE = CompiledQuery("annotator.first_assignable", _first_assignable_query)


def first_assignable_report(*, reader: User, now: dt.datetime, skip_locked: bool | None) -> Report | None:
    """The first report of `assignable_reports` (what its `.first()` gives),
    locked (FOR UPDATE, SKIP LOCKED when `skip_locked`) unless `skip_locked` is
    None: one statement, compiled once per queue order and k (`api.compiled_queries`)."""
    settings_row = runtime_settings_get()
    variant = {"order": str(settings_row.queue_order), "k": settings_row.reads_per_report, "skip_locked": skip_locked}
    rows = _FIRST_ASSIGNABLE.run(variant, reader_id=reader.pk, now=now)
    return rows[0] if rows else None


def _ordered(qs: QuerySet[Report], order: str) -> QuerySet[Report]:
    if order == RuntimeSettings.QueueOrder.SEQUENTIAL:
        return qs.order_by("id")
    # Priority orders (random included): an inner join on ReportPriority (every
    # report has a row after `report_priorities_refresh`) lets the database walk
    # the priority index in order and stop at the first free report instead of
    # sorting all.
    qs = qs.filter(priority__is_open=True, priority__disagreement__gte=0)
    if order == RuntimeSettings.QueueOrder.RANDOM:
        # A fixed permutation (`services.report_random_key`), not ORDER BY random():
        # an index walk, and the same order on every request.
        return qs.order_by("priority__random_key", "priority__report_id")
    if order == RuntimeSettings.QueueOrder.UNCERTAINTY:
        return qs.order_by("priority__confidence", "priority__report_id")
    return qs.order_by("-priority__disagreement", "priority__confidence", "priority__report_id")


def _reservation_live_of_reader_query(slots: Slots) -> QuerySet[Reservation]:
    reader_id = slots.int("reader_id")
    return (
        _live_reservations(slots.datetime("now"))
        .filter(reader_id=reader_id)
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("report_id"), reader_id=reader_id,
                                                  status=Annotation.Status.SUBMITTED)))
        .filter(report__is_flagged=False, report__is_withdrawn=False)
        # A calibration report is gold by definition: resumed all the same.
        .exclude(Q(is_calibration=False) & Exists(GoldLabel.objects.filter(report_id=OuterRef("report_id"), is_current=True)))
        .select_related("report")  # the caller hands out this report
        .order_by("created_at", "id")[:1]
    )


_RESERVATION_LIVE_OF_READER = CompiledQuery("annotator.reservation_live_of_reader", _reservation_live_of_reader_query)


def reservation_live_of_reader(*, reader: User, now: dt.datetime | None = None) -> Reservation | None:
    """The reader's oldest live reservation of a report still to read (to resume)."""
    rows = _RESERVATION_LIVE_OF_READER.run(reader_id=reader.pk, now=now or timezone.now())
    return rows[0] if rows else None


@dataclass(frozen=True)
class QueueSummary:
    assigned: int  # reports reserved for the reader and not yet submitted
    done: int  # reads submitted
    remaining: int  # reports the reader could still be given
    recent: list[dict[str, object]] = field(default_factory=list)


def reader_queue_summary(*, reader: User, recent: int = 10) -> QueueSummary:
    now = timezone.now()
    done = Annotation.objects.filter(reader=reader, status=Annotation.Status.SUBMITTED)
    assigned = (
        _live_reservations(now)
        .filter(reader=reader)
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("report_id"), reader=reader, status=Annotation.Status.SUBMITTED)))
        .count()
    )
    rows = list(
        done.order_by("-submitted_at").values("report_id", "report__external_id", "submitted_at")[:recent]
    )
    # "Gold" only where the read is released (access.gold_feedback_due): never right after a submit,
    # a calibration report not before its period ends (to the reader it looks like any other).
    gold_ids = set(
        Report.objects.filter(id__in=[r["report_id"] for r in rows]).filter(reader_gold_visible(reader=reader, now=now))
        .values_list("id", flat=True)
    )
    recent_rows: list[dict[str, object]] = [{**r, "is_gold": r["report_id"] in gold_ids} for r in rows]
    return QueueSummary(
        assigned=assigned,
        done=done.count(),
        remaining=assignable_reports(reader=reader, now=now, order="sequential").count(),
        recent=recent_rows,
    )


@dataclass(frozen=True)
class ReaderProgress:
    today: int  # reads the reader submitted since local midnight
    this_week: int  # ... since Monday, local midnight
    awaiting_reads: int  # unflagged reports without gold that still need reads (fewer than k submitted)
    median_seconds: float | None  # the reader's median time per report (None before the first read)


def reader_progress(*, reader: User, now: dt.datetime | None = None) -> ReaderProgress:
    """The reader's own progress. Time per report is the annotation's recorded
    `time_spent_seconds`: active time on the review page from opening the read
    to submit (the page counts it), or reservation-to-submit when the client
    sent none; imported reads carry no time and are left out."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = midnight - dt.timedelta(days=midnight.weekday())
    mine = Annotation.objects.filter(reader=reader, status=Annotation.Status.SUBMITTED)
    seconds = sorted(mine.filter(label_import__isnull=True).values_list("time_spent_seconds", flat=True))
    median = None
    if seconds:
        mid = len(seconds) // 2
        median = float(seconds[mid]) if len(seconds) % 2 else (seconds[mid - 1] + seconds[mid]) / 2
    k = runtime_settings_get().reads_per_report
    awaiting = (
        unflagged_reports()
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .annotate(reads=_count_subquery(Annotation.objects.filter(report_id=OuterRef("pk"), status=Annotation.Status.SUBMITTED)))
        .filter(reads__lt=k)
        .count()
    )
    return ReaderProgress(
        today=mine.filter(submitted_at__gte=midnight).count(),
        this_week=mine.filter(submitted_at__gte=monday).count(),
        awaiting_reads=awaiting,
        median_seconds=median,
    )
