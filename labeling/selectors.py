"""Reads. Views, API views, commands and tasks read domain data through here."""

from __future__ import annotations

from collections.abc import Collection

from django.conf import settings
from django.db.models import Q, QuerySet

from api.request_memo import memoized
from labeling.models import (
    GoldLabel,
    GoldSetMembership,
    GoldSetVersion,
    ImportBatch,
    LabelImport,
    MachinePrediction,
    ModelVersion,
    Report,
    RuntimeSettings,
)

_IN_CHUNK = 900  # ids per IN (...) query: under SQLite's older limit of 999 parameters


def runtime_settings_get() -> RuntimeSettings:
    """The single RuntimeSettings row, created from the environment on first use.
    Read once per request (`api.request_memo`); writers call `memo_forget("runtime_settings")`."""
    return memoized("runtime_settings", _runtime_settings_load)


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
    """The active model version, once per request (`api.request_memo`; promotion forgets it)."""
    return memoized("active_model", lambda: ModelVersion.objects.filter(is_active=True).first())


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
