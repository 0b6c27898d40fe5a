"""A reader's own read of a report: drafts, the independent first read, submit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator import selectors
from annotator.consistency import ConsistencyWarning, consistency_warnings
from annotator.errors import NoCapacity, NotAllowed, ReadUsed, ReviewError, StaleVersion
from annotator.services.assignment import priority_open_recompute
from annotator.services.base import MAX_TIME_SPENT_SECONDS, full_labels, report_lock
from annotator.services.gold import report_gold_by_agreement_try
from api.compiled_queries import CompiledQuery
from labeling.models import Annotation, GoldLabel, Report, Reservation
from labeling.observations import labels_from_mapping
from labeling.selectors import runtime_settings_get


# --- reads ------------------------------------------------------------------------
def _prefill_snapshot(report: Report) -> dict[str, dict[str, object]]:
    """The pre-fill this read starts from (what the review page shows now)."""
    return selectors.machine_labels_for_report(report=report).snapshot()


def prefill_outcome(*, prefill: Mapping[str, Mapping[str, object]] | None, labels: Mapping[str, str]) -> dict[str, str] | None:
    """Per observation: "kept" the pre-filled value, "changed" it, or "chosen" where nothing was pre-filled."""
    if not prefill:
        return None
    outcome = {}
    for name, value in labels.items():
        cell = prefill.get(name) or {}
        offered = cell.get("value")
        outcome[name] = "chosen" if offered is None else ("kept" if offered == value else "changed")
    return outcome


def time_spent_clamp(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    return max(0.0, min(float(seconds), MAX_TIME_SPENT_SECONDS))


# Every write of a read takes it: compiled once per process (api.compiled_queries).
_ANNOTATION_LOCKED = CompiledQuery("annotator.annotation_locked", lambda slots: (
    Annotation.objects.select_for_update().filter(report_id=slots.int("report_id"), reader_id=slots.int("reader_id"))
    .order_by("pk")[:1]
))


def _annotation_for_write(*, reader: User, report: Report, expected_version: int, locked: bool = False) -> Annotation | None:
    """The reader's annotation, locked, after checking the client's version (0 = none yet).

    The report row is locked first: while there is no annotation there is no row
    to lock, so two identical creates (a double click, a retried request) would
    both pass the version check and one would fail on the unique (report, reader)
    constraint. Behind the report lock the second sees the first's annotation and
    gets StaleVersion (409) instead. `locked`: the caller holds the report lock already."""
    if not locked:
        report_lock(report.id)
    rows = _ANNOTATION_LOCKED.run(report_id=report.pk, reader_id=reader.pk)
    annotation = rows[0] if rows else None
    if annotation is not None:
        annotation.report = report  # the row we hold; the answer shows its external id
    current = annotation.version if annotation else 0
    if current != expected_version:
        raise StaleVersion("This read was changed elsewhere (another tab?). Reload the page to continue.")
    if annotation is not None and annotation.status == Annotation.Status.SUBMITTED:
        raise ReviewError("This read is already submitted.")
    return annotation


def _check_reader_may_write(*, reader: User, report: Report) -> selectors.ReportForWrite:
    """Refuse writes to reports not handed to `reader` and to gold reports
    (except a calibration report handed to them). Returns what was found:
    whether this is a calibration read, and the reader's reservation."""
    # One statement for the checks (`selectors.report_for_reader_write`).
    found = selectors.report_for_reader_write(reader=reader, report_id=report.id)
    if found is None:
        raise NotAllowed("This report is not assigned to you.")
    if not found.calibration and found.has_gold:
        raise ReviewError("This report is already gold.")
    return found


@transaction.atomic
def annotation_draft_save(
    *, reader: User, report: Report, labels: Mapping[str, str], expected_version: int, time_spent_seconds: float | None = None
) -> Annotation:
    """Autosave a draft. Partial label sets are fine: a row without a value stays
    without one (it is not a chosen "blank"), so a contested row is still
    unanswered when the draft is reopened.

    Raises StaleVersion when `expected_version` is not the stored version."""
    calibration = _check_reader_may_write(reader=reader, report=report).calibration
    given: dict[object, object] = {k: v for k, v in labels.items() if v}
    try:
        normalised = labels_from_mapping(given)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
    values = {name: value for name, value in normalised.items() if name in given}
    annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version)
    spent = time_spent_clamp(time_spent_seconds)
    if annotation is None:
        return Annotation.objects.create(report=report, reader=reader, labels=values, time_spent_seconds=spent or 0.0,
                                         prefill=_prefill_snapshot(report), is_calibration=calibration)
    annotation.labels = values
    annotation.version += 1
    if spent is not None:
        annotation.time_spent_seconds = spent
    annotation.save()
    return annotation


@transaction.atomic
def annotation_first_read_commit(
    *, reader: User, report: Report, labels: Mapping[str, str], expected_version: int, time_spent_seconds: float | None = None
) -> Annotation:
    """Record the reader's independent first read; machine labels are shown from now on."""
    calibration = _check_reader_may_write(reader=reader, report=report).calibration
    values = full_labels(labels)
    annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version)
    if annotation is None:
        annotation = Annotation(report=report, reader=reader, labels=values, prefill=_prefill_snapshot(report),
                                is_calibration=calibration)
    elif annotation.first_read_labels is not None:
        raise ReviewError("The first read is already committed.")
    else:
        annotation.version += 1
    annotation.labels = values
    annotation.first_read_labels = dict(values)
    spent = time_spent_clamp(time_spent_seconds)
    if spent is not None:
        annotation.time_spent_seconds = spent
    annotation.save()
    return annotation


@dataclass
class SubmitResult:
    annotation: Annotation | None
    warnings: list[ConsistencyWarning] = field(default_factory=list)
    gold: GoldLabel | None = None

    @property
    def submitted(self) -> bool:
        return self.annotation is not None and self.annotation.status == Annotation.Status.SUBMITTED


def annotation_submit(
    *,
    reader: User,
    report: Report,
    labels: Mapping[str, str],
    expected_version: int,
    time_spent_seconds: float | None = None,
    override_warnings: bool = False,
) -> SubmitResult:
    """Submit a read. With consistency warnings and no override, nothing is
    saved and the warnings are returned. On success the reservation ends and,
    when all k reads agree and auto-gold is on, the report becomes gold."""
    values = full_labels(labels)
    warnings = consistency_warnings(values)
    if warnings and not override_warnings:
        return SubmitResult(annotation=None, warnings=warnings)
    with transaction.atomic():
        report = report_lock(report.id)
        found = _check_reader_may_write(reader=reader, report=report)
        calibration = found.calibration
        settings_row = runtime_settings_get()
        now = timezone.now()
        # One (report, reader) reservation at most, read with the checks: for "holds it live" and for the time spent.
        holds_live = found.holds_live(now)
        # A calibration read takes no place among the k reads.
        if not calibration and not holds_live and selectors.report_read_load(report_id=report.id, now=now, exclude_reader=reader) >= settings_row.reads_per_report:
            raise NoCapacity("Your reservation expired and this report now has enough reads. Take the next report.")
        annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version, locked=True)
        if annotation is None:
            annotation = Annotation(report=report, reader=reader, prefill=_prefill_snapshot(report), is_calibration=calibration)
        else:
            annotation.version += 1
        if review_first_read_required(annotation=annotation):
            raise ReviewError("Commit your first read before submitting.")
        annotation.labels = values
        annotation.prefill_outcome = prefill_outcome(prefill=annotation.prefill, labels=values)
        annotation.status = Annotation.Status.SUBMITTED
        annotation.submitted_at = now
        spent = time_spent_clamp(time_spent_seconds)
        if spent is None:
            spent = time_spent_clamp((now - found.reserved_at).total_seconds()) if found.reserved_at else 0.0
        annotation.time_spent_seconds = spent or 0.0
        annotation.save()
        Reservation.objects.filter(report=report, reader=reader).delete()
        if calibration:  # never touches gold or the queue order
            return SubmitResult(annotation=annotation, warnings=warnings, gold=None)
        # Under this lock the report was found unflagged and without current gold (_check_reader_may_write).
        gold = report_gold_by_agreement_try(report=report, checked_open=True) if settings_row.auto_gold else None
        if gold is None:  # new gold has closed the report in the queue order already
            priority_open_recompute(report_id=report.id)
    return SubmitResult(annotation=annotation, warnings=warnings, gold=gold)


@transaction.atomic
def annotation_reopen(*, reader: User, report: Report, expected_version: int) -> Annotation:
    """Reopen the reader's own submitted read as a draft, to change and submit it
    again. Allowed until the read is used (`selectors.read_is_used`: the report
    became gold or went to adjudication); then ReadUsed (409). The submitted
    values stay in the annotation's history (django-simple-history, the audit
    log); the reader holds the report again (a fresh reservation) so its place
    among the k reads is kept while they edit."""
    report = report_lock(report.id)
    if selectors.report_for_reader(reader=reader, report_id=report.id) is None:
        raise NotAllowed("This report is not assigned to you.")
    annotation = Annotation.objects.select_for_update().filter(report=report, reader=reader).first()
    if annotation is None or annotation.status != Annotation.Status.SUBMITTED:
        raise ReviewError("Only a submitted read can be reopened.")
    if annotation.version != expected_version:
        raise StaleVersion("This read was changed elsewhere (another tab?). Reload the page to continue.")
    if selectors.read_is_used(annotation=annotation):
        raise ReadUsed("This read can no longer be changed: its report is gold or awaits adjudication.")
    annotation.status = Annotation.Status.DRAFT
    annotation.submitted_at = None
    annotation.prefill_outcome = None
    annotation.version += 1
    annotation.save()
    minutes = runtime_settings_get().reservation_minutes
    Reservation.objects.update_or_create(
        report=report, reader=reader,
        defaults={"state": Reservation.State.ACTIVE, "expires_at": timezone.now() + dt.timedelta(minutes=minutes),
                  "is_calibration": annotation.is_calibration},
    )
    priority_open_recompute(report_id=report.id)
    return annotation


def review_first_read_required(*, annotation: Annotation | None) -> bool:
    """True while independent first read is on and this read has no first read yet."""
    if runtime_settings_get().prefill != "none":
        return False
    return annotation is None or annotation.first_read_labels is None
