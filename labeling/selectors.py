"""Reads. Views, API views, commands and tasks read domain data through here."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from api.request_memo import shared_memoized
from labeling.models import (
    Annotation,
    CalibrationPeriod,
    GoldLabel,
    GoldSetMembership,
    GoldSetVersion,
    ImportBatch,
    LabelImport,
    MachinePrediction,
    ModelVersion,
    Report,
    Reservation,
    RuntimeSettings,
)

_IN_CHUNK = 900  # ids per IN (...) query: under SQLite's older limit of 999 parameters


def runtime_settings_get() -> RuntimeSettings:
    """The single RuntimeSettings row, created from the environment on first use.
    Shared between requests (`api.request_memo.shared_memoized`); a save drops it."""
    return shared_memoized("runtime_settings", _runtime_settings_load)


def _runtime_settings_load() -> RuntimeSettings:
    row = RuntimeSettings.objects.filter(singleton=1).first()
    if row is not None:
        return row
    row, _ = RuntimeSettings.objects.get_or_create(
        singleton=1,
        defaults={
            "reads_per_report": settings.CHEXGOLD_READS_PER_REPORT,
            "reservation_minutes": settings.CHEXGOLD_RESERVATION_MINUTES,
            "queue_order": settings.CHEXGOLD_QUEUE_ORDER,
            "auto_gold": settings.CHEXGOLD_AUTO_GOLD,
            "promotion_policy": settings.CHEXGOLD_PROMOTION_POLICY,
        },
    )
    return row


def active_model_version_get() -> ModelVersion | None:
    """The active model version, shared between requests (`api.request_memo.shared_memoized`;
    any save of a model version drops it)."""
    return shared_memoized("active_model", lambda: ModelVersion.objects.filter(is_active=True).first())


def model_version_get_by_name(*, name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(name=name).first()


def gold_set_version_get(*, name: str) -> GoldSetVersion | None:
    return GoldSetVersion.objects.filter(name=name).first()


def gold_labels_for_export(*, gold_version: GoldSetVersion | None = None) -> QuerySet[GoldLabel]:
    """Current gold labels of unflagged reports (or a frozen version's), in report order."""
    if gold_version is None:
        # Flagged reports leave the gold set until an admin resolves the flag;
        # a frozen version is exported as it was frozen.
        qs = GoldLabel.objects.filter(is_current=True, report__is_flagged=False, report__is_withdrawn=False)
    else:
        qs = GoldLabel.objects.filter(
            id__in=GoldSetMembership.objects.filter(version=gold_version).values("gold_label_id")
        )
    return qs.select_related("report", "adjudicator").order_by("report_id")


def predictions_for_export(*, source: str, source_version: str) -> QuerySet[MachinePrediction]:
    return (
        MachinePrediction.objects.filter(source=source, source_version=source_version, report__is_withdrawn=False)
        .select_related("report")
        .order_by("report_id")
    )


def reports_for_label_studio() -> QuerySet[Report]:
    """Reports a Label Studio export hands out: not flagged, not withdrawn, in id order."""
    return Report.objects.filter(is_flagged=False, is_withdrawn=False).order_by("id")


def predictions_of_reports(*, report_ids: list[int], sources: list[tuple[str, str]]) -> dict[int, dict[tuple[str, str], dict[str, str]]]:
    """report id -> (source, version) -> labels, for the given reports and labelers."""
    found: dict[int, dict[tuple[str, str], dict[str, str]]] = {}
    if not sources or not report_ids:
        return found
    wanted = Q()
    for source, version in sources:
        wanted |= Q(source=source, source_version=version)
    for start in range(0, len(report_ids), _IN_CHUNK):
        rows = MachinePrediction.objects.filter(wanted, report_id__in=report_ids[start : start + _IN_CHUNK])
        for report_id, source, version, labels in rows.values_list("report_id", "source", "source_version", "labels"):
            found.setdefault(report_id, {})[(source, version)] = labels
    return found


def latest_rules_version() -> str | None:
    """The rule labeler version with the most recent prediction."""
    row = (
        MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES)
        .order_by("-id")
        .values_list("source_version", flat=True)
        .first()
    )
    return row


def import_batches_recent(*, limit: int = 20) -> QuerySet:
    return ImportBatch.objects.select_related("created_by").order_by("-created_at")[:limit]


def label_imports_recent(*, limit: int = 20) -> QuerySet[LabelImport]:
    return LabelImport.objects.select_related("created_by", "gold_set_version").order_by("-created_at", "-id")[:limit]


def report_ids_by_external_id(*, external_ids: Collection[str]) -> dict[str, int]:
    """Stored reports among `external_ids`: external id -> report id."""
    wanted = sorted(set(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        found.update(Report.objects.filter(external_id__in=wanted[start : start + _IN_CHUNK]).values_list("external_id", "id"))
    return found


def report_ids_by_text_sha256(*, digests: Collection[str]) -> dict[str, list[int]]:
    """Stored reports whose ORIGINAL text (`Report.text_sha256`, as imported,
    before any redaction) has one of `digests`: digest -> report ids (several
    reports may share a text)."""
    wanted = sorted(set(digests))
    found: dict[str, list[int]] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        rows = Report.objects.filter(text_sha256__in=wanted[start : start + _IN_CHUNK]).order_by("id").values_list("text_sha256", "id")
        for digest, report_id in rows:
            found.setdefault(digest, []).append(report_id)
    return found


def current_gold_labels_of_reports(*, report_ids: Collection[int]) -> dict[int, dict[str, str]]:
    """Report id -> labels of its current gold row, for the reports that have one."""
    wanted = sorted(set(report_ids))
    found: dict[int, dict[str, str]] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        found.update(GoldLabel.objects.filter(is_current=True, report_id__in=wanted[start : start + _IN_CHUNK]).values_list("report_id", "labels"))
    return found


def external_predictions_of_reports(*, labeler: str, report_ids: Collection[int]) -> dict[int, dict[str, str]]:
    """Report id -> labels of the external labeler `labeler`, for the reports it labelled."""
    wanted = sorted(set(report_ids))
    found: dict[int, dict[str, str]] = {}
    qs = MachinePrediction.objects.filter(source=MachinePrediction.Source.EXTERNAL, source_version=labeler)
    for start in range(0, len(wanted), _IN_CHUNK):
        found.update(qs.filter(report_id__in=wanted[start : start + _IN_CHUNK]).values_list("report_id", "labels"))
    return found


def current_gold_for_training() -> QuerySet[GoldLabel]:
    """Current gold labels of unflagged reports, with their report (text, split)."""
    return GoldLabel.objects.filter(is_current=True, report__is_flagged=False, report__is_withdrawn=False).select_related("report").order_by("report_id")


def rule_labels_for_training(*, rules_version: str) -> QuerySet[MachinePrediction]:
    """Rule predictions of unflagged reports: the silver training data."""
    return (
        MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES, source_version=rules_version, report__is_flagged=False, report__is_withdrawn=False)
        .select_related("report")
        .order_by("report_id")
    )


# --- feedback release: THE rule for when a reader may see the gold of their read ------
def annotations_released(*, now: datetime | None = None, cutoff: datetime | None = None) -> QuerySet[Annotation]:
    """Submitted reads whose gold is released to their own reader: the one release
    rule behind every page, API, list and figure that could show a reader the gold
    of a report they read (`annotator.selectors.access`, `quality.statistics`).

    A read is released when its report has current gold AND the reader has since
    submitted CHEXGOLD_FEEDBACK_AFTER_READS further reads or
    CHEXGOLD_FEEDBACK_AFTER_HOURS have passed since the submit (never right after
    it: what a submit leads to, gold by agreement or adjudication, can then not be
    told apart from a report still waiting, so a second reader cannot learn whether
    the first agreed). A calibration read besides needs its calibration period to
    have ended (its report was gold before it was served; reads are begun only
    while a period is open, so one begun before the open period's start belongs to
    an ended one). The batch applies to calibration reads too, so that after the
    period ends they cannot be told from normal reads by their feedback coming early.

    `cutoff` (default `feedback_time_cutoff(now)`): reads submitted at or before it
    are released by time; hot paths pass it so that the statement's parameters are
    their own (`api.compiled_queries`)."""
    cutoff = cutoff or feedback_time_cutoff(now or timezone.now())
    later = (
        Annotation.objects.filter(
            reader_id=OuterRef("reader_id"), status=Annotation.Status.SUBMITTED, submitted_at__gt=OuterRef("submitted_at")
        )
        .order_by().values("reader_id").annotate(c=Count("id")).values("c")[:1]
    )
    open_since_begun = CalibrationPeriod.objects.filter(ended_at__isnull=True, started_at__lte=OuterRef("created_at"))
    return (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED, submitted_at__isnull=False)
        .filter(Exists(GoldLabel.objects.filter(report_id=OuterRef("report_id"), is_current=True)))
        .alias(later=Coalesce(Subquery(later, output_field=IntegerField()), Value(0)))
        .filter(Q(submitted_at__lte=cutoff)
                | Q(later__gte=settings.CHEXGOLD_FEEDBACK_AFTER_READS))
        .exclude(Q(is_calibration=True) & Q(Exists(open_since_begun)))
    )


def feedback_time_cutoff(now: datetime) -> datetime:
    """Reads submitted at or before this are released by time (`annotations_released`)."""
    return now - timedelta(hours=settings.CHEXGOLD_FEEDBACK_AFTER_HOURS)


def annotations_released_to(
    *, user: AbstractBaseUser | AnonymousUser, now: datetime | None = None, cutoff: datetime | None = None,
) -> QuerySet[Annotation]:
    """`user`'s own reads whose gold is released to them (`annotations_released`)."""
    if getattr(user, "pk", None) is None:
        return Annotation.objects.none()
    return annotations_released(now=now, cutoff=cutoff).filter(reader_id=user.pk)


def report_ids_unreleased_to(
    *, user: AbstractBaseUser | AnonymousUser, now: datetime | None = None, calibration: bool = True,
) -> QuerySet[Report, Any]:
    """Reports `user` reads or holds (an annotation of any status, draft included,
    or an active reservation) whose gold is not released to them
    (`annotations_released`): everything about these reports' reads and gold must
    stay out of what `user` is shown. One subquery (rows {"id": ...}), to use as
    `report_id__in=`; nothing is loaded.

    `calibration=False` leaves out calibration reads and reservations: for
    figures that never count calibration reads and that showed the calibration
    report's gold before it was served (statistics); hiding it there on handing it
    out would itself tell the reader that it was gold, i.e. a calibration report."""
    if getattr(user, "pk", None) is None:
        return Report.objects.none().values("id")
    mine = Annotation.objects.filter(reader_id=user.pk)
    held = Reservation.objects.filter(reader_id=user.pk, state=Reservation.State.ACTIVE)
    if not calibration:
        mine, held = mine.filter(is_calibration=False), held.filter(is_calibration=False)
    released = annotations_released_to(user=user, now=now).filter(report_id=OuterRef("pk"))
    # Driven from the user's own rows (`id IN (their reads UNION their holds)`, index
    # lookups), not EXISTS per report: that scanned every report, ~0.3-0.6 s at 200k,
    # on every statistics view and audit page.
    return Report.objects.filter(id__in=mine.values("report_id").union(held.values("report_id"))).exclude(Exists(released)).values("id")
