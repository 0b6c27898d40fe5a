"""Reads for the training and model pages."""

from __future__ import annotations

from django.db.models import QuerySet

from labeling.models import ModelVersion
from ml_worker.models import TrainingRun


def training_runs_recent(*, limit: int = 30) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("started_by", "produced_version", "base_version").order_by("-created_at")[:limit]


def model_versions_all() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("parent").order_by("-created_at")


def training_run_status_dict(*, run: TrainingRun) -> dict[str, object]:
    progress = run.progress or {}
    total = progress.get("total_steps") or 0
    return {
        "id": run.id,
        "status": run.status,
        "stage": run.stage,
        "progress": progress,
        "fraction": (progress.get("step", 0) / total) if total else (1.0 if run.status == "succeeded" else 0.0),
        "cancel_requested": run.cancel_requested,
        "log_tail": run.log[-4000:],
        "produced_version": run.produced_version.name if run.produced_version else None,
    }
