"""Handing reports to readers: reservations, k reads per report, queue priorities."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Count, Exists, Max, Min, Q, Value, When
from django.utils import timezone

from accounts.roles import Role
from accounts.selectors import user_roles
from annotator import selectors
from annotator.errors import NotAllowed
from annotator.models import ReportPriority
from annotator.services.calibration import calibration_next_assign
from labeling.models import Annotation, GoldLabel, MachinePrediction, ModelVersion, Report, Reservation, RuntimeSettings
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import active_model_version_get, latest_rules_version, runtime_settings_get


# --- assignment ------------------------------------------------------------------
def next_report_assign(*, reader: User, now: dt.datetime | None = None) -> Report | None:
    """Hand `reader` a report and reserve it for them for `reservation_minutes`.

    Resumes the reader's own live reservation first. Never exceeds k (submitted
    reads + live reservations) and never hands a reader a report twice (unless
    re-reads are on). About one in `calibration_every` requests gets a
    calibration report instead (unannounced; `services.calibration`). Returns
    None when nothing is left."""
    if Role.READER not in user_roles(user=reader):
        raise NotAllowed("Only readers get reports to read.")
    now = now or timezone.now()
    settings_row = runtime_settings_get()
    expires = now + dt.timedelta(minutes=settings_row.reservation_minutes)
    refresh_elsewhere = False
    if settings_row.queue_order in (RuntimeSettings.QueueOrder.DISAGREEMENT, RuntimeSettings.QueueOrder.UNCERTAINTY,
                                    RuntimeSettings.QueueOrder.RANDOM):
        refresh_elsewhere = _priorities_refresh_if_due()
    report = _assign(reader=reader, now=now, expires=expires, k=settings_row.reads_per_report)
    if report is None and refresh_elsewhere:
        # Perhaps only the new reports are left, and another process is giving them
        # their priorities: wait for it rather than answer "nothing left".
        report_priorities_refresh_once(wait=True)
        report = _assign(reader=reader, now=now, expires=expires, k=settings_row.reads_per_report)
    return report


@transaction.atomic
def _assign(*, reader: User, now: dt.datetime, expires: dt.datetime, k: int) -> Report | None:
    # Serialise one reader's own concurrent requests (double clicks, two tabs).
    get_user_model().objects.select_for_update().filter(pk=reader.pk).values_list("pk", flat=True).first()
    current = selectors.reservation_live_of_reader(reader=reader, now=now)
    if current is not None:
        Reservation.objects.filter(id=current.id).update(expires_at=expires)
        return current.report
    report_id = calibration_next_assign(reader=reader, now=now, expires=expires)
    if report_id is not None:
        return Report.objects.get(id=report_id)
    return _reserve_first_free(reader=reader, now=now, expires=expires, k=k)


MAX_ASSIGN_TRIES = 50


def _reserve_first_free(*, reader: User, now: dt.datetime, expires: dt.datetime, k: int) -> Report | None:
    """Lock candidates one at a time, recount under the lock, reserve the first with room.

    PostgreSQL: first pass skips rows other readers hold (they spread over
    reports), second pass waits for them (so a busy report is not reported as
    "nothing left"). A fresh statement after the lock sees commits made since
    the candidate query's snapshot, hence the recount."""
    locking = connection.features.has_select_for_update
    passes = (True, False) if connection.features.has_select_for_update_skip_locked else (False,)
    tried: list[int] = []
    for skip_locked in passes:
        while len(tried) < MAX_ASSIGN_TRIES:
            if not tried:
                # The usual case, the first try: one statement compiled once per process.
                report = selectors.first_assignable_report(reader=reader, now=now, skip_locked=skip_locked if locking else None)
            else:
                qs = selectors.assignable_reports(reader=reader, now=now).exclude(id__in=tried)
                if locking:
                    qs = qs.select_for_update(skip_locked=skip_locked, of=("self",))
                report = qs.first()  # the whole row: it is what the reader is handed
            if report is None:
                break
            tried.append(report.id)
            if selectors.report_read_load(report_id=report.id, now=now, exclude_reader=reader) >= k:
                continue
            # One upsert (an expired reservation of this reader may be there): update_or_create's
            # SELECT, INSERT and savepoints were four round trips.
            Reservation.objects.bulk_create(
                [Reservation(report_id=report.id, reader=reader, state=Reservation.State.ACTIVE, expires_at=expires,
                             created_at=now)],
                update_conflicts=True, unique_fields=["report", "reader"], update_fields=["state", "expires_at", "created_at"],
            )
            return report
    return None


def reservation_skip(*, reader: User, report: Report) -> None:
    """Give the report back; it leaves this reader's queue (the draft, if any, stays)."""
    Reservation.objects.update_or_create(
        report=report, reader=reader, defaults={"state": Reservation.State.SKIPPED, "expires_at": timezone.now()}
    )


def reservations_release_of_reader(*, reader: User) -> int:
    """Release every report `reader` holds at once (their reads in progress stop
    counting toward k; drafts stay). Returns how many were released."""
    released, _ = Reservation.objects.filter(reader=reader, state=Reservation.State.ACTIVE).delete()
    return released


def reservations_release_on_deactivation(sender: object, user: User, **kwargs: object) -> None:
    """`accounts.signals.user_deactivated` receiver (connected in `AnnotatorConfig.ready`)."""
    reservations_release_of_reader(reader=user)


def report_random_key(report_id: int) -> int:
    """The report's fixed place in the "random" queue order: a keyed hash of its id
    (31 bits), so the permutation is the same on every request and every install."""
    digest = hashlib.blake2b(report_id.to_bytes(8, "little"), digest_size=4, key=b"chexgold-random-order").digest()
    return int.from_bytes(digest, "little") >> 1


def report_priorities_refresh(*, batch_size: int = 2000) -> int:
    """Recompute queue-order keys (and the rules-vs-model flag) of reports whose
    predictions changed basis (new rule version, a different active model, k) or
    that got predictions since their keys were computed (a model labelling
    reports after they were queued). Returns rows written."""
    rules_version = latest_rules_version() or "-"
    model = active_model_version_get()
    k = runtime_settings_get().reads_per_report
    basis = f"{rules_version}|{model.id if model else '-'}|k{k}"
    # Both read before writing: rows written below get `predictions_seen = newest`,
    # and predictions newer than the rows' previous maximum are looked at after.
    newest = MachinePrediction.objects.order_by("-id").values_list("id", flat=True).first() or 0
    seen = ReportPriority.objects.aggregate(m=Max("predictions_seen"))["m"] or 0
    written: set[int] = set()
    if _priorities_stale(basis):
        stale = Report.objects.exclude(priority__basis=basis).order_by("id").values_list("id", flat=True)
        last_id = 0
        while ids := list(stale.filter(id__gt=last_id)[:batch_size]):
            last_id = ids[-1]
            _priorities_write(ids, basis=basis, rules_version=rules_version, model=model, k=k, newest=newest)
            written.update(ids)
    if newest:
        # Rows computed before any prediction existed, or before these columns did (an
        # upgrade leaves them at their defaults): their keys are recomputed once.
        unseen = ReportPriority.objects.filter(predictions_seen=0).order_by("report_id").values_list("report_id", flat=True)
        last_id = 0
        while ids := [rid for rid in unseen.filter(report_id__gt=last_id)[:batch_size]]:
            last_id = ids[-1]
            _priorities_write(ids, basis=basis, rules_version=rules_version, model=model, k=k, newest=newest)
            written.update(ids)
    if seen and newest > seen:
        relevant = Q(source=MachinePrediction.Source.RULES, source_version=rules_version)
        if model is not None:
            relevant |= Q(model_version=model)
        fresh = set(MachinePrediction.objects.filter(relevant, id__gt=seen, id__lte=newest).values_list("report_id", flat=True))
        ids = sorted(fresh - written)
        for start in range(0, len(ids), batch_size):
            _priorities_write(ids[start:start + batch_size], basis=basis, rules_version=rules_version, model=model, k=k, newest=newest)
        written.update(ids)
    return len(written)


def _priorities_write(ids: list[int], *, basis: str, rules_version: str, model: ModelVersion | None, k: int, newest: int) -> None:
    rules = dict(
        MachinePrediction.objects.filter(report_id__in=ids, source=MachinePrediction.Source.RULES, source_version=rules_version)
        .values_list("report_id", "labels")
    )
    models_ = {}
    if model is not None:
        models_ = {
            rid: (labels, probs)
            for rid, labels, probs in MachinePrediction.objects.filter(report_id__in=ids, model_version=model).values_list(
                "report_id", "labels", "probabilities"
            )
        }
    closed = _reports_closed(ids, k=k)
    rows = []
    for rid in ids:
        disagreement, confidence, rules_vs_model = 0, 1.0, None
        if rid in models_:
            labels, probs = models_[rid]
            rule_labels = rules.get(rid)
            if rule_labels:
                disagreement = sum(1 for n in OBSERVATION_NAMES if rule_labels.get(n) != labels.get(n))
                rules_vs_model = disagreement > 0
            if probs:
                confidence = min((max(p.values()) for p in probs.values() if p), default=1.0)
        rows.append(
            ReportPriority(report_id=rid, basis=basis, disagreement=disagreement, confidence=confidence, is_open=rid not in closed,
                           rules_vs_model=rules_vs_model, random_key=report_random_key(rid), predictions_seen=newest)
        )
    with transaction.atomic():
        ReportPriority.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["report"],
            update_fields=["basis", "disagreement", "confidence", "is_open", "rules_vs_model", "random_key", "predictions_seen"],
        )


def _reports_closed(ids: list[int], *, k: int) -> set[int]:
    """Of `ids`, the reports that cannot be handed out again: gold, flagged, or k submitted reads."""
    gold = set(GoldLabel.objects.filter(report_id__in=ids, is_current=True).values_list("report_id", flat=True))
    flagged = set(Report.objects.filter(Q(is_flagged=True) | Q(is_withdrawn=True), id__in=ids).values_list("id", flat=True))
    full = set(
        Annotation.objects.filter(report_id__in=ids, status=Annotation.Status.SUBMITTED, is_calibration=False)
        .values("report_id").annotate(n=Count("id")).filter(n__gte=k).values_list("report_id", flat=True)
    )
    return gold | flagged | full


def priority_open_recompute(*, report_id: int) -> None:
    """After a read, gold or flag change: close the report in the queue order
    when it is finished, reopen it when it is not (e.g. a flag resolved as keep)."""
    # One UPDATE: the `_reports_closed` test (gold, flagged, or k submitted reads) as an expression.
    k = runtime_settings_get().reads_per_report
    full = (
        Annotation.objects.filter(report_id=report_id, status=Annotation.Status.SUBMITTED, is_calibration=False)
        .values("report_id").annotate(n=Count("id")).filter(n__gte=k)
    )
    closed = (
        Exists(GoldLabel.objects.filter(report_id=report_id, is_current=True))
        | Exists(Report.objects.filter(Q(is_flagged=True) | Q(is_withdrawn=True), id=report_id))
        | Exists(full)
    )
    ReportPriority.objects.filter(report_id=report_id).update(
        is_open=Case(When(closed, then=Value(False)), default=Value(True), output_field=BooleanField())
    )


# Queue priorities are refreshed once for every process, not once per process:
# imports and model activation queue `annotator.tasks.report_priorities_refresh_task`
# (sent by name: labeling and ml_worker do not import annotator), so a reader's
# `next` rarely finds them due. A shared stamp in Django's default cache (one for
# all processes of an install) says when some process last made sure they were
# current; a per-process timer made the first `next` of every gunicorn worker
# after an import recompute all reports (4-23 s; docs/PERFORMANCE.md "Reader load").
PRIORITY_CHECK_SECONDS = 30.0
PRIORITY_STAMP_KEY = "annotator:priorities:checked_at"
PRIORITY_LOCK_KEY = "annotator:priorities:refreshing"
# A refresh of 200k reports takes well under this; a process that died holding
# the lock delays the others' refresh at most this long.
PRIORITY_LOCK_SECONDS = 120
PRIORITY_LOCK_WAIT_SECONDS = 30.0
_priorities_checked_until = 0.0  # this process's copy of the shared stamp + PRIORITY_CHECK_SECONDS


def report_priorities_refresh_once(*, wait: bool = True) -> bool:
    """Bring queue priorities up to date with one process at a time, then stamp
    the time for all processes. Another process's refresh in progress: with
    `wait`, wait for it (at most PRIORITY_LOCK_WAIT_SECONDS) and check after it,
    which finds nothing stale; without, return False at once. Returns True when
    this process checked (and refreshed what was stale)."""
    global _priorities_checked_until
    deadline = time.monotonic() + PRIORITY_LOCK_WAIT_SECONDS
    while not cache.add(PRIORITY_LOCK_KEY, os.getpid(), timeout=PRIORITY_LOCK_SECONDS):
        if not wait:
            return False
        if time.monotonic() > deadline:
            break  # a lock left by a dead process: refresh regardless (the upsert is idempotent)
        time.sleep(0.05)
    try:
        report_priorities_refresh()
        checked_at = time.time()
        cache.set(PRIORITY_STAMP_KEY, checked_at, timeout=None)
        _priorities_checked_until = checked_at + PRIORITY_CHECK_SECONDS
    finally:
        cache.delete(PRIORITY_LOCK_KEY)
    return True


def _priorities_refresh_if_due() -> bool:
    """Before an assignment in a priority order. New reports without a priority
    row are never handed out (the order is an inner join): found by two index
    lookups, they are given one here unless another process (the task an import
    queues) is at it; then the reader is served from the reports that have one,
    and True is returned. A changed basis (rule version, active model, k) is
    checked only when no process has checked for PRIORITY_CHECK_SECONDS, and
    not while another process is at it."""
    global _priorities_checked_until
    if _reports_without_priority():
        return not report_priorities_refresh_once(wait=False)
    if time.time() < _priorities_checked_until:
        return False  # this process saw a fresh stamp: not even the cache is asked
    stamp = cache.get(PRIORITY_STAMP_KEY)
    if isinstance(stamp, float) and time.time() - stamp < PRIORITY_CHECK_SECONDS:
        _priorities_checked_until = stamp + PRIORITY_CHECK_SECONDS
        return False
    report_priorities_refresh_once(wait=False)
    return False


def _reports_without_priority() -> bool:
    # Two index lookups: imports only append report ids.
    newest_report = Report.objects.order_by("-id").values_list("id", flat=True).first()
    newest_priority = ReportPriority.objects.order_by("-report_id").values_list("report_id", flat=True).first()
    return newest_report != newest_priority


def _priorities_stale(basis: str) -> bool:
    """Any priority row computed on another basis, or reports without one."""
    # The smallest and largest basis (two ends of the basis index) instead of
    # `exclude(basis=...).exists()`, which reads every row when none differs.
    ends = ReportPriority.objects.aggregate(low=Min("basis"), high=Max("basis"))
    return (ends["low"] is not None and not ends["low"] == ends["high"] == basis) or _reports_without_priority()
