"""The model registry: register a trained version with its validation metrics and
model card, decide promotion, promote, roll back. Every version is kept."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from api.errors import DomainError
from api.request_memo import forgets
from labeling.models import ModelVersion
from labeling.selectors import (
    active_model_version_get,
    runtime_settings_get,
)
from labeling.services.prelabel import REPORT_PRIORITIES_REFRESH_TASK
from ml_worker.model_store import checkpoint_publish
from ml_worker.models import TrainingRun

if TYPE_CHECKING:  # training imports this module to register what it trained
    from ml_worker.services.training import TrainingData

from django.conf import settings

from labeling.routing import model_is_usable, routing_table
from labeling.rules import label_reports
from quality.gate import STATUS_FAILED, GateThresholds, gate_on_gold, gate_on_rules
from quality.metrics import evaluation_report, mean_weighted_f1

logger = logging.getLogger(__name__)


def _score(checkpoint: str, validation: Sequence[tuple[str, dict[str, str]]]) -> tuple[float, list[dict[str, str]]]:
    from ml_worker.predictors import predictor_for_path  # here: loading a model imports torch

    predictions = predictor_for_path(checkpoint).predict([text for text, _ in validation])
    pred = [p.labels for p in predictions]
    return mean_weighted_f1([labels for _, labels in validation], pred), pred


def model_version_register(*, run: TrainingRun, checkpoint_dir: Path, data: TrainingData, training: Any) -> ModelVersion:
    """Register a finished run's checkpoint with its validation metrics and model card;
    promote it when the policy allows (first version, or it beats the active one
    on the same validation set)."""
    metrics: dict[str, Any] = {
        "basis": data.validation_basis,
        "validation_reports": len(data.validation),
        "data": data.provenance,
        "training": {
            "steps": training.steps, "seconds": round(training.seconds, 1),
            "examples_per_second": round(training.examples_per_second, 2),
            "selection": training.selection, "best_epoch": training.best_epoch,
            "resumed_from_epoch": training.resumed_from_epoch,  # None unless a lost worker's run was resumed
        },
    }
    new_score: float | None = None
    pred: list[dict[str, str]] = []
    if data.validation:
        new_score, pred = _score(str(checkpoint_dir), data.validation)
        metrics["mean_weighted_f1"] = new_score
        metrics["evaluation"] = evaluation_report([labels for _, labels in data.validation], pred).as_dict()
    gate = model_gate_compute(validation=data.validation, basis=data.validation_basis, model_labels=pred)
    active = active_model_version_get()
    decision, active_score = _promotion_decision(active=active, new_score=new_score, gate=gate, validation=data.validation)
    metrics["promotion"] = {
        "decision": decision, "compared_with": active.name if active else None,
        "active_score": active_score, "new_score": new_score, "basis": data.validation_basis,
        "gate_status": gate["status"],
    }
    with transaction.atomic():
        number = (ModelVersion.objects.aggregate(n=Max("id"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            name=f"v{number}-{run.stage}",
            checkpoint_path=checkpoint_publish(local_dir=checkpoint_dir),
            base_encoder=str(training.manifest.base_encoder),
            stage=run.stage,
            parent=run.base_version,
            metrics=metrics,
            gate=gate,
            model_card=_model_card(run=run, metrics=metrics, gate=gate, base_encoder=str(training.manifest.base_encoder)),
        )
        TrainingRun.objects.filter(id=run.id).update(produced_version=version, metrics=metrics)
        if decision.startswith("promoted"):
            model_version_promote(version=version)
    return version


def gate_thresholds() -> GateThresholds:
    return GateThresholds(
        min_gold_reports=settings.CHEXGOLD_GATE_MIN_GOLD_REPORTS,
        min_positives=settings.CHEXGOLD_GATE_MIN_POSITIVES,
        min_agreement=settings.CHEXGOLD_GATE_MIN_RULES_AGREEMENT,
    )


def model_gate_compute(*, validation: Sequence[tuple[str, dict[str, str]]], basis: str,
                       model_labels: Sequence[dict[str, str]]) -> dict[str, Any]:
    """The promotion gate of a version (quality.gate) on its validation reports:
    per observation against the rules on validation gold, else agreement with the
    held-back rule labels. No validation data: the version pre-fills nothing."""
    thresholds = gate_thresholds()
    if not validation:
        return {"basis": "none", "status": STATUS_FAILED, "reason": "no validation data to judge it on", "reports": 0,
                "observations": [], "thresholds": thresholds.__dict__}
    if basis == "validation_gold":
        texts = [text for text, _ in validation]
        rules = [r.labels for r in label_reports(texts, section=settings.CHEXGOLD_LABEL_SECTION)]
        return gate_on_gold(gold=[labels for _, labels in validation], rules=rules, model=list(model_labels), thresholds=thresholds)
    return gate_on_rules(rules=[labels for _, labels in validation], model=list(model_labels), thresholds=thresholds)


def _promotion_decision(
    *, active: ModelVersion | None, new_score: float | None, gate: dict[str, Any],
    validation: Sequence[tuple[str, dict[str, str]]],
) -> tuple[str, float | None]:
    """Promotion is earned: the version must pass its gate (no free pass for the
    first one), and replaces the active version only if it scores at least as
    well on the same validation reports."""
    if not model_is_usable(gate):
        return f"not promoted: did not pass the gate ({gate['reason']})", None
    if runtime_settings_get().promotion_policy == "manual":
        return "not promoted: promotion policy is manual", None
    if active is None:
        return f"promoted: passed the gate ({gate['reason']})", None
    if new_score is None:
        return "kept the active version: no validation data to compare on", None
    try:
        active_score, _ = _score(active.checkpoint_path, validation)
    except Exception as exc:  # an unreadable old checkpoint must not block the new one
        logger.warning("cannot score active version %s: %s", active.name, exc)
        return "promoted: passed the gate; the active version could not be scored", None
    if new_score >= active_score:
        return f"promoted: passed the gate and scores {new_score:.4f} >= {active.name}'s {active_score:.4f}", active_score
    return f"kept {active.name}: it scores {active_score:.4f}, the new version {new_score:.4f}", active_score


def _model_card(*, run: TrainingRun, metrics: dict[str, Any], gate: dict[str, Any], base_encoder: str) -> dict[str, Any]:
    return {
        "model": "CheXbert-style report labeler: BERT encoder, [CLS] state, 14 linear heads",
        "encoder": base_encoder,
        "stage": run.stage,
        "training_data": metrics["data"],
        "validation": {"basis": metrics["basis"], "reports": metrics["validation_reports"],
                       "mean_weighted_f1": metrics.get("mean_weighted_f1")},
        "promotion_gate": {"status": gate["status"], "reason": gate["reason"], "basis": gate["basis"],
                           "routing": routing_table(gate)},
        "intended_use": "Pre-labelling chest X-ray report text with the 14 CheXpert observations for review by radiologists and for training image models.",
        "limitations": "Trained on this site's reports and labels; validate before use elsewhere. Reads report text only.",
        "not_for_clinical_use": "Not for clinical use: research labels only, not a diagnostic device.",
    }


@forgets("active_model")
def model_version_promote(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one active model (also rollback: promote an older one).
    The version's gate is not changed: a version that did not pass it is active
    but pre-fills nothing (the rules do), whoever promoted it.
    All reports are then re-labelled by it in the background, chunk by chunk."""
    # Row saves (not queryset updates) so simple-history records who changed
    # which version, before and after; the old version is saved first so the
    # one-active constraint holds at every statement.
    with transaction.atomic():
        for previous in ModelVersion.objects.select_for_update().filter(is_active=True).exclude(id=version.id):
            previous.is_active = False
            previous.save(update_fields=["is_active"])
        version = ModelVersion.objects.select_for_update().get(id=version.id)
        version.is_active = True
        version.promoted_at = timezone.now()
        version.save(update_fields=["is_active", "promoted_at"])
        transaction.on_commit(_enqueue_relabel)
    return version


class NothingToRollBack(DomainError):
    """No earlier promoted version exists."""

    http_status = 409
    code = "nothing_to_roll_back"


def model_version_rollback() -> ModelVersion:
    """Re-activate the most recently promoted version other than the active one."""
    previous = (ModelVersion.objects.filter(is_active=False, promoted_at__isnull=False)
                .order_by("-promoted_at", "-id").first())
    if previous is None:
        raise NothingToRollBack("No earlier promoted version to roll back to.")
    return model_version_promote(version=previous)


def _enqueue_relabel() -> None:
    from ml_worker.tasks import model_predictions_missing_task  # here: ml_worker.tasks imports the services

    model_predictions_missing_task.delay()
    # The queue order's basis is the active model: recomputed once by a worker, not
    # on readers' requests (sent by name: ml_worker does not import annotator).
    current_app.send_task(REPORT_PRIORITIES_REFRESH_TASK)
