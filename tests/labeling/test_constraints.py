"""Invariants are database constraints, not just code paths."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from labeling.models import GoldSetMembership, GoldSetVersion, MachinePrediction, Report, RuntimeSettings
from tests.factories import (
    AnnotationFactory,
    GoldLabelFactory,
    ModelVersionFactory,
    ReportFactory,
    RulePredictionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def violates(fn) -> bool:  # type: ignore[no-untyped-def]
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


def test_one_annotation_per_reader_per_report() -> None:
    annotation = AnnotationFactory()
    assert violates(lambda: AnnotationFactory(report=annotation.report, reader=annotation.reader))
    AnnotationFactory(report=annotation.report, reader=UserFactory())  # another reader is fine


def test_exactly_one_active_model_version() -> None:
    ModelVersionFactory(is_active=True)
    assert violates(lambda: ModelVersionFactory(is_active=True))
    ModelVersionFactory(is_active=False)


def test_one_current_gold_label_per_report_but_history_is_kept() -> None:
    old = GoldLabelFactory()
    assert violates(lambda: GoldLabelFactory(report=old.report))
    old.is_current = False
    old.save()
    GoldLabelFactory(report=old.report, supersedes=old)
    assert old.report.gold_labels.count() == 2


def test_one_prediction_per_report_and_source_version() -> None:
    prediction = RulePredictionFactory()
    assert violates(lambda: RulePredictionFactory(report=prediction.report))
    RulePredictionFactory(report=prediction.report, source_version="other")


def test_model_predictions_must_name_their_model_version() -> None:
    report = ReportFactory()
    assert violates(
        lambda: MachinePrediction.objects.create(report=report, source="model", source_version="v1", labels={})
    )
    version = ModelVersionFactory()
    assert violates(
        lambda: MachinePrediction.objects.create(report=report, source="rules", source_version="1", model_version=version, labels={})
    )


def test_external_id_is_unique_and_text_not_empty() -> None:
    ReportFactory(external_id="X")
    assert violates(lambda: ReportFactory(external_id="X"))
    assert violates(lambda: Report.objects.create(external_id="Y", text="", text_sha256="0"))


def test_gold_version_holds_one_label_per_report() -> None:
    gold = GoldLabelFactory()
    version = GoldSetVersion.objects.create(name="v1")
    GoldSetMembership.objects.create(version=version, report=gold.report, gold_label=gold)
    assert violates(lambda: GoldSetMembership.objects.create(version=version, report=gold.report, gold_label=gold))


def test_runtime_settings_is_a_single_row() -> None:
    RuntimeSettings.objects.create()
    assert violates(lambda: RuntimeSettings.objects.create(singleton=2))
    assert violates(lambda: RuntimeSettings.objects.create())


def test_annotation_changes_are_in_the_history() -> None:
    annotation = AnnotationFactory()
    annotation.labels = {**annotation.labels, "Edema": "positive"}
    annotation.save()
    history = list(annotation.history.order_by("history_date").values_list("labels", flat=True))
    assert history[0]["Edema"] == "blank" and history[-1]["Edema"] == "positive"
