"""Reads. Views, API views, commands and tasks read domain data through here."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from labeling.models import (
    GoldLabel,
    GoldSetMembership,
    GoldSetVersion,
    ImportBatch,
    MachinePrediction,
    ModelVersion,
    RuntimeSettings,
)


def runtime_settings_get() -> RuntimeSettings:
    """The single RuntimeSettings row, created from the environment on first use."""
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
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_get_by_name(*, name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(name=name).first()


def gold_set_version_get(*, name: str) -> GoldSetVersion | None:
    return GoldSetVersion.objects.filter(name=name).first()


def gold_labels_for_export(*, gold_version: GoldSetVersion | None = None) -> QuerySet[GoldLabel]:
    """Current gold labels of unflagged reports (or a frozen version's), in report order."""
    if gold_version is None:
        # Flagged reports leave the gold set until an admin resolves the flag;
        # a frozen version is exported as it was frozen.
        qs = GoldLabel.objects.filter(is_current=True, report__is_flagged=False)
    else:
        qs = GoldLabel.objects.filter(
            id__in=GoldSetMembership.objects.filter(version=gold_version).values("gold_label_id")
        )
    return qs.select_related("report", "adjudicator").order_by("report_id")


def predictions_for_export(*, source: str, source_version: str) -> QuerySet[MachinePrediction]:
    return (
        MachinePrediction.objects.filter(source=source, source_version=source_version)
        .select_related("report")
        .order_by("report_id")
    )


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


def current_gold_for_training() -> QuerySet[GoldLabel]:
    """Current gold labels of unflagged reports, with their report (text, split)."""
    return GoldLabel.objects.filter(is_current=True, report__is_flagged=False).select_related("report").order_by("report_id")


def rule_labels_for_training(*, rules_version: str) -> QuerySet[MachinePrediction]:
    """Rule predictions of unflagged reports: the silver training data."""
    return (
        MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES, source_version=rules_version, report__is_flagged=False)
        .select_related("report")
        .order_by("report_id")
    )
