"""Writes for the review UI: assignment, reads, gold, flags, guidelines, settings.

Concurrency: assignment and gold writes lock the report row
(`select_for_update`; on SQLite the IMMEDIATE transaction mode serialises
writers) and recount under the lock, so k reads per report and one current gold
row per report hold under concurrent requests. Database constraints back this
up (one reservation / annotation per reader per report, one current gold row).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from annotator import selectors
from annotator.consistency import ConsistencyWarning, consistency_warnings
from annotator.models import Flag, GuidelineVersion, ReportPriority, Reread, Reservation, ReviewSettings
from labeling.models import Annotation, GoldLabel, GoldSetMembership, GoldSetVersion, MachinePrediction, Report, RuntimeSettings
from labeling.observations import OBSERVATION_NAMES, LabelDict, labels_from_mapping
from labeling.roles import Role
from labeling.selectors import active_model_version_get, latest_rules_version, runtime_settings_get, user_roles
from labeling.services.flags import report_flagged_set
from labeling.splits import gold_split_for

SUBMITTED = Annotation.Status.SUBMITTED
MAX_TIME_SPENT_SECONDS = 4 * 3600


class ReviewError(Exception):
    """A request the review rules refuse; the message is shown to the user."""


class StaleVersion(ReviewError):
    """The annotation changed since the client loaded it (another tab, a stale autosave)."""


class NoCapacity(ReviewError):
    """The report already has k reads (submitted or reserved by others)."""


class GoldConflict(ReviewError):
    """The current gold row is not the one the adjudicator saw."""


class NotAllowed(ReviewError):
    pass


def _lock_report(report_id: int) -> Report:
    """Lock the report row for the rest of the transaction (no-op on SQLite,
    where IMMEDIATE transactions already serialise writers)."""
    return Report.objects.select_for_update().get(id=report_id)


def full_labels(values: Mapping[str, str]) -> LabelDict:
    """Validate a complete set of 14 labels (ReviewError naming what is wrong)."""
    missing = [name for name in OBSERVATION_NAMES if name not in values or not values[name]]
    if missing:
        raise ReviewError(f"Choose a value for: {', '.join(missing)}")
    try:
        mapping: dict[object, object] = {k: v for k, v in values.items()}
        return labels_from_mapping(mapping)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None


# --- assignment ------------------------------------------------------------------
def next_report_assign(*, reader: AbstractBaseUser, now: dt.datetime | None = None) -> Report | None:
    """Hand `reader` a report and reserve it for them for `reservation_minutes`.

    Resumes the reader's own live reservation first. Never exceeds k (submitted
    reads + live reservations) and never hands a reader a report twice (unless
    re-reads are on). Returns None when nothing is left."""
    if Role.READER not in user_roles(user=reader):
        raise NotAllowed("Only readers get reports to read.")
    now = now or timezone.now()
    settings_row = runtime_settings_get()
    expires = now + dt.timedelta(minutes=settings_row.reservation_minutes)
    if settings_row.queue_order in (RuntimeSettings.QueueOrder.DISAGREEMENT, RuntimeSettings.QueueOrder.UNCERTAINTY):
        _priorities_refresh_if_due()
    with transaction.atomic():
        # Serialise one reader's own concurrent requests (double clicks, two tabs).
        get_user_model().objects.select_for_update().filter(pk=reader.pk).values_list("pk", flat=True).first()
        current = selectors.reservation_live_of_reader(reader=reader, now=now)
        if current is not None:
            Reservation.objects.filter(id=current.id).update(expires_at=expires)
            return current.report
        report_id = _reserve_first_free(reader=reader, now=now, expires=expires, k=settings_row.reads_per_report)
    return Report.objects.get(id=report_id) if report_id is not None else None


MAX_ASSIGN_TRIES = 50


def _reserve_first_free(*, reader: AbstractBaseUser, now: dt.datetime, expires: dt.datetime, k: int) -> int | None:
    """Lock candidates one at a time, recount under the lock, reserve the first with room.

    PostgreSQL: first pass skips rows other readers hold (they spread over
    reports), second pass waits for them (so a busy report is not reported as
    "nothing left"). A fresh statement after the lock sees commits made since
    the candidate query's snapshot, hence the recount."""
    candidates = selectors.assignable_reports(reader=reader, now=now)
    locking = connection.features.has_select_for_update
    passes = (True, False) if connection.features.has_select_for_update_skip_locked else (False,)
    tried: list[int] = []
    for skip_locked in passes:
        while len(tried) < MAX_ASSIGN_TRIES:
            qs = candidates.exclude(id__in=tried)
            if locking:
                qs = qs.select_for_update(skip_locked=skip_locked, of=("self",))
            report_id = next(iter(qs.values_list("id", flat=True)[:1]), None)
            if report_id is None:
                break
            tried.append(report_id)
            if selectors.report_read_load(report_id=report_id, now=now, exclude_reader=reader) >= k:
                continue
            Reservation.objects.update_or_create(
                report_id=report_id, reader=reader,
                defaults={"state": Reservation.State.ACTIVE, "expires_at": expires, "created_at": now},
            )
            return report_id
    return None


def reservation_skip(*, reader: AbstractBaseUser, report: Report) -> None:
    """Give the report back; it leaves this reader's queue (the draft, if any, stays)."""
    Reservation.objects.update_or_create(
        report=report, reader=reader, defaults={"state": Reservation.State.SKIPPED, "expires_at": timezone.now()}
    )


def report_priorities_refresh(*, batch_size: int = 2000) -> int:
    """Recompute queue-order keys of reports whose predictions changed basis
    (new rule version or a different active model). Returns rows written."""
    rules_version = latest_rules_version() or "-"
    model = active_model_version_get()
    k = runtime_settings_get().reads_per_report
    basis = f"{rules_version}|{model.id if model else '-'}|k{k}"
    if not _priorities_stale(basis):
        return 0
    stale = Report.objects.exclude(priority__basis=basis).order_by("id").values_list("id", flat=True)
    written = 0
    last_id = 0
    while True:
        ids = list(stale.filter(id__gt=last_id)[:batch_size])
        if not ids:
            return written
        last_id = ids[-1]
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
            disagreement, confidence = 0, 1.0
            if rid in models_:
                labels, probs = models_[rid]
                rule_labels = rules.get(rid)
                if rule_labels:
                    disagreement = sum(1 for n in OBSERVATION_NAMES if rule_labels.get(n) != labels.get(n))
                if probs:
                    confidence = min((max(p.values()) for p in probs.values() if p), default=1.0)
            rows.append(
                ReportPriority(report_id=rid, basis=basis, disagreement=disagreement, confidence=confidence, is_open=rid not in closed)
            )
        with transaction.atomic():
            ReportPriority.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["report"],
                update_fields=["basis", "disagreement", "confidence", "is_open"],
            )
        written += len(rows)


def _reports_closed(ids: list[int], *, k: int) -> set[int]:
    """Of `ids`, the reports that cannot be handed out again: gold, flagged, or k submitted reads."""
    gold = set(GoldLabel.objects.filter(report_id__in=ids, is_current=True).values_list("report_id", flat=True))
    flagged = set(Report.objects.filter(id__in=ids, is_flagged=True).values_list("id", flat=True))
    full = set(
        Annotation.objects.filter(report_id__in=ids, status=SUBMITTED)
        .values("report_id").annotate(n=Count("id")).filter(n__gte=k).values_list("report_id", flat=True)
    )
    return gold | flagged | full


def _priority_open_recompute(*, report_id: int) -> None:
    """After a read, gold or flag change: close the report in the queue order
    when it is finished, reopen it when it is not (e.g. a flag resolved as keep)."""
    closed = _reports_closed([report_id], k=runtime_settings_get().reads_per_report)
    ReportPriority.objects.filter(report_id=report_id).update(is_open=report_id not in closed)


PRIORITY_CHECK_SECONDS = 30.0
_priority_checked_at: float | None = None


def _priorities_refresh_if_due() -> None:
    """Refresh queue priorities before an assignment: at once for new reports
    (two index lookups), otherwise at most every PRIORITY_CHECK_SECONDS per
    process, since finding the latest rule version scans predictions; a newly
    activated model reorders the queue up to that much later."""
    global _priority_checked_at
    now = time.monotonic()
    recent = _priority_checked_at is not None and now - _priority_checked_at < PRIORITY_CHECK_SECONDS
    if recent and not _reports_without_priority():
        return
    report_priorities_refresh()
    _priority_checked_at = time.monotonic()


def _reports_without_priority() -> bool:
    # Two index lookups: imports only append report ids.
    newest_report = Report.objects.order_by("-id").values_list("id", flat=True).first()
    newest_priority = ReportPriority.objects.order_by("-report_id").values_list("report_id", flat=True).first()
    return newest_report != newest_priority


def _priorities_stale(basis: str) -> bool:
    """Any priority row computed on another basis, or reports without one."""
    return ReportPriority.objects.exclude(basis=basis).exists() or _reports_without_priority()


# --- reads ------------------------------------------------------------------------
def _clamp_time(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    return max(0.0, min(float(seconds), MAX_TIME_SPENT_SECONDS))


def _annotation_for_write(*, reader: AbstractBaseUser, report: Report, expected_version: int) -> Annotation | None:
    """The reader's annotation, locked, after checking the client's version (0 = none yet)."""
    annotation = Annotation.objects.select_for_update().filter(report=report, reader=reader).first()
    current = annotation.version if annotation else 0
    if current != expected_version:
        raise StaleVersion("This read was changed elsewhere (another tab?). Reload the page to continue.")
    if annotation is not None and annotation.status == SUBMITTED:
        raise ReviewError("This read is already submitted.")
    return annotation


def _check_reader_may_write(*, reader: AbstractBaseUser, report: Report) -> None:
    if selectors.report_for_reader(reader=reader, report_id=report.id) is None:
        raise NotAllowed("This report is not assigned to you.")
    if GoldLabel.objects.filter(report=report, is_current=True).exists():
        raise ReviewError("This report is already gold.")


@transaction.atomic
def annotation_draft_save(
    *, reader: AbstractBaseUser, report: Report, labels: Mapping[str, str], expected_version: int, time_spent_seconds: float | None = None
) -> Annotation:
    """Autosave a draft. Partial label sets are fine (missing -> blank).

    Raises StaleVersion when `expected_version` is not the stored version."""
    _check_reader_may_write(reader=reader, report=report)
    try:
        values = labels_from_mapping({k: v for k, v in labels.items() if v})
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
    annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version)
    spent = _clamp_time(time_spent_seconds)
    if annotation is None:
        return Annotation.objects.create(report=report, reader=reader, labels=values, time_spent_seconds=spent or 0.0)
    annotation.labels = values
    annotation.version += 1
    if spent is not None:
        annotation.time_spent_seconds = spent
    annotation.save()
    return annotation


@transaction.atomic
def annotation_first_read_commit(
    *, reader: AbstractBaseUser, report: Report, labels: Mapping[str, str], expected_version: int, time_spent_seconds: float | None = None
) -> Annotation:
    """Record the reader's independent first read; machine labels are shown from now on."""
    _check_reader_may_write(reader=reader, report=report)
    values = full_labels(labels)
    annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version)
    if annotation is None:
        annotation = Annotation(report=report, reader=reader, labels=values)
    elif annotation.first_read_labels is not None:
        raise ReviewError("The first read is already committed.")
    else:
        annotation.version += 1
    annotation.labels = values
    annotation.first_read_labels = dict(values)
    spent = _clamp_time(time_spent_seconds)
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
        return self.annotation is not None and self.annotation.status == SUBMITTED


def annotation_submit(
    *,
    reader: AbstractBaseUser,
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
        report = _lock_report(report.id)
        _check_reader_may_write(reader=reader, report=report)
        settings_row = runtime_settings_get()
        now = timezone.now()
        holds_live = Reservation.objects.filter(
            report=report, reader=reader, state=Reservation.State.ACTIVE, expires_at__gt=now
        ).exists()
        if not holds_live and selectors.report_read_load(report_id=report.id, now=now, exclude_reader=reader) >= settings_row.reads_per_report:
            raise NoCapacity("Your reservation expired and this report now has enough reads. Take the next report.")
        annotation = _annotation_for_write(reader=reader, report=report, expected_version=expected_version)
        if annotation is None:
            annotation = Annotation(report=report, reader=reader)
        else:
            annotation.version += 1
        if review_first_read_required(annotation=annotation):
            raise ReviewError("Commit your first read before submitting.")
        annotation.labels = values
        annotation.status = SUBMITTED
        annotation.submitted_at = now
        spent = _clamp_time(time_spent_seconds)
        if spent is None:
            reservation = Reservation.objects.filter(report=report, reader=reader).first()
            spent = _clamp_time((now - reservation.created_at).total_seconds()) if reservation else 0.0
        annotation.time_spent_seconds = spent or 0.0
        annotation.save()
        Reservation.objects.filter(report=report, reader=reader).delete()
        gold = report_gold_by_agreement_try(report=report) if settings_row.auto_gold else None
        _priority_open_recompute(report_id=report.id)
    return SubmitResult(annotation=annotation, warnings=warnings, gold=gold)


# --- deliberate re-reads (intra-reader reliability) -------------------------------
REREAD_MIN_AGE = dt.timedelta(days=1)


def reread_next_assign(*, reader: AbstractBaseUser, rng: random.Random | None = None,
                       now: dt.datetime | None = None) -> Report | None:
    """With re-reads on, hand `reader` one of their own submitted reads (at least
    REREAD_MIN_AGE old, not flagged, not re-read yet) to read again, about
    `reread_percent` times in 100; a pending re-read is handed back first.
    Returns None when the reader should get a normal report."""
    review = selectors.review_settings_get()
    if not review.allow_rereads:
        return None
    pending = Reread.objects.filter(reader=reader, submitted_at__isnull=True, report__is_flagged=False).first()
    if pending is not None:
        return pending.report
    if (rng or random).random() * 100 >= review.reread_percent:
        return None
    now = now or timezone.now()
    report_id = (
        Annotation.objects.filter(reader=reader, status=SUBMITTED, submitted_at__lte=now - REREAD_MIN_AGE,
                                  report__is_flagged=False)
        .exclude(report__rereads__reader=reader)
        .order_by("?")
        .values_list("report_id", flat=True)
        .first()
    )
    if report_id is None:
        return None
    reread, _ = Reread.objects.get_or_create(report_id=report_id, reader=reader)
    return reread.report


def reread_submit(*, reader: AbstractBaseUser, report: Report, labels: Mapping[str, str],
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
        reread.time_spent_seconds = _clamp_time(time_spent_seconds) or 0.0
        reread.submitted_at = timezone.now()
        reread.save()
    return reread


def review_first_read_required(*, annotation: Annotation | None) -> bool:
    """True while independent first read is on and this read has no first read yet."""
    if not selectors.review_settings_get().independent_first_read:
        return False
    return annotation is None or annotation.first_read_labels is None


# --- gold ------------------------------------------------------------------------------
def _gold_split_assign(report: Report) -> None:
    # Called when a report becomes gold: it leaves the queue order too.
    ReportPriority.objects.filter(report_id=report.id).update(is_open=False)
    # Once only: a report never moves between train and validation.
    Report.objects.filter(id=report.id, gold_split="").update(
        gold_split=gold_split_for(patient_id=report.patient_id, external_id=report.external_id)  # labeling.splits
    )


def report_gold_by_agreement_try(*, report: Report) -> GoldLabel | None:
    """Make the report gold when it has k submitted reads that agree on all 14
    values (blank != negative). Call inside a transaction holding the report lock."""
    if GoldLabel.objects.filter(report=report, is_current=True).exists() or selectors.report_is_flagged(report_id=report.id):
        return None
    annotations = list(Annotation.objects.filter(report=report, status=SUBMITTED))
    if len(annotations) < runtime_settings_get().reads_per_report:
        return None
    if selectors.conflicting_observations(a.labels for a in annotations):
        return None
    gold = GoldLabel.objects.create(report=report, labels=labels_from_mapping(annotations[0].labels), method=GoldLabel.Method.AGREEMENT)
    gold.annotations.set(annotations)
    _gold_split_assign(report)
    return gold


def gold_adjudicate(
    *,
    report: Report,
    adjudicator: AbstractBaseUser,
    labels: Mapping[str, str],
    rationale: str = "",
    expected_current_gold_id: int | None,
) -> GoldLabel:
    """Write the adjudicated gold labels of a report (or a correction that
    supersedes the current gold row). Raises GoldConflict when the current gold
    row is not `expected_current_gold_id` (someone resolved it meanwhile)."""
    values = full_labels(labels)
    with transaction.atomic():
        report = _lock_report(report.id)
        if not selectors.user_may_adjudicate(user=adjudicator, report=report):
            raise NotAllowed("You read this report (or are not an adjudicator), so you cannot adjudicate it.")
        if selectors.report_is_flagged(report_id=report.id):
            raise ReviewError("This report is flagged; an admin must resolve the flag first.")
        current = GoldLabel.objects.select_for_update().filter(report=report, is_current=True).first()
        if (current.id if current else None) != expected_current_gold_id:
            raise GoldConflict("Someone else resolved this report while you were working. Reload to see the current gold labels.")
        if current is not None:
            current.is_current = False
            current.save(update_fields=["is_current"])
        gold = GoldLabel.objects.create(
            report=report, labels=values, method=GoldLabel.Method.ADJUDICATED, adjudicator=adjudicator,
            rationale=rationale.strip(), supersedes=current,
        )
        gold.annotations.set(Annotation.objects.filter(report=report, status=SUBMITTED))
        _gold_split_assign(report)
    return gold


@transaction.atomic
def gold_set_version_freeze(*, name: str, user: AbstractBaseUser | None, note: str = "") -> GoldSetVersion:
    """Snapshot the current gold set (without flagged reports) under `name`."""
    name = name.strip()
    if not name:
        raise ReviewError("Give the version a name.")
    if GoldSetVersion.objects.filter(name=name).exists():
        raise ReviewError(f"A gold-set version named {name!r} already exists.")
    version = GoldSetVersion.objects.create(name=name, note=note, created_by=user)
    rows = (
        GoldLabel.objects.filter(is_current=True)
        .filter(report__is_flagged=False)
        .values_list("id", "report_id")
    )
    batch: list[GoldSetMembership] = []
    for gold_id, report_id in rows.iterator(chunk_size=5000):
        batch.append(GoldSetMembership(version=version, report_id=report_id, gold_label_id=gold_id))
        if len(batch) >= 5000:
            GoldSetMembership.objects.bulk_create(batch)
            batch = []
    GoldSetMembership.objects.bulk_create(batch)
    return version


# --- flags ----------------------------------------------------------------------------------
def report_flag(*, report: Report, user: AbstractBaseUser, reason: str, note: str = "") -> Flag:
    """Flag a report: it leaves queues, gold and training until an admin resolves it."""
    if reason not in Flag.Reason.values:
        raise ReviewError(f"Unknown flag reason {reason!r}.")
    if reason == Flag.Reason.OTHER and not note.strip():
        raise ReviewError("Say why you flag the report.")
    with transaction.atomic():
        flag = Flag.objects.create(report=report, raised_by=user, reason=reason, note=note.strip())
        report_flagged_set(report_id=report.id, flagged=True)
        _priority_open_recompute(report_id=report.id)
        # Release everyone's reservations so the report stops counting toward k.
        Reservation.objects.filter(report=report, state=Reservation.State.ACTIVE).delete()
    return flag


@transaction.atomic
def flag_resolve(*, flag: Flag, admin: AbstractBaseUser, resolution: str, note: str = "") -> Flag:
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
    _priority_open_recompute(report_id=flag.report_id)
    return flag


# --- guidelines, settings, users ---------------------------------------------------------------
@transaction.atomic
def guideline_update(*, observation: str, text: str, user: AbstractBaseUser | None) -> GuidelineVersion:
    """Add the next version of an observation's guideline (older versions stay)."""
    if observation not in OBSERVATION_NAMES:
        raise ReviewError(f"Unknown observation {observation!r}.")
    text = text.strip()
    if not text:
        raise ReviewError("The guideline text is empty.")
    last = GuidelineVersion.objects.select_for_update().filter(observation=observation).order_by("-version").first()
    if last is not None and last.text == text:
        return last
    return GuidelineVersion.objects.create(observation=observation, version=(last.version + 1) if last else 1, text=text, created_by=user)


@transaction.atomic
def review_settings_update(
    *,
    reads_per_report: int,
    reservation_minutes: int,
    queue_order: str,
    auto_gold: bool,
    independent_first_read: bool,
    allow_rereads: bool,
    anonymise_readers: bool,
    reread_percent: int | None = None,
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
    review.independent_first_read = independent_first_read
    review.allow_rereads = allow_rereads
    if reread_percent is not None:
        if not 0 <= reread_percent <= 100:
            raise ReviewError("The re-read share is a percentage between 0 and 100.")
        review.reread_percent = reread_percent
    review.anonymise_readers = anonymise_readers
    review.save()
    return runtime, review


@transaction.atomic
def user_role_add(*, user: AbstractBaseUser, role: Role) -> None:
    group, _ = Group.objects.get_or_create(name=role.group_name)
    user.groups.add(group)  # type: ignore[attr-defined]
    if role is Role.ADMIN and not getattr(user, "is_staff", False):
        get_user_model().objects.filter(pk=user.pk).update(is_staff=True)


@transaction.atomic
def user_role_remove(*, user: AbstractBaseUser, role: Role) -> None:
    group = Group.objects.filter(name=role.group_name).first()
    if group is not None:
        user.groups.remove(group)  # type: ignore[attr-defined]


__all__ = [
    "GoldConflict", "NoCapacity", "NotAllowed", "ReviewError", "StaleVersion", "SubmitResult",
    "annotation_draft_save", "annotation_first_read_commit", "annotation_submit", "flag_resolve", "full_labels",
    "gold_adjudicate", "gold_set_version_freeze", "gold_split_for", "guideline_update", "next_report_assign",
    "report_flag", "report_gold_by_agreement_try", "report_priorities_refresh", "reservation_skip",
    "review_first_read_required", "review_settings_update", "user_role_add", "user_role_remove",
]
