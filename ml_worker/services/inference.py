"""Batch inference of the active model: label reports that lack its prediction
(chunked, resumable), and the re-labelling progress."""

from __future__ import annotations

from labeling.models import MachinePrediction, ModelVersion, Report
from labeling.selectors import (
    active_model_version_get,
)
from labeling.services.predictions import model_predictions_store

INFERENCE_CHUNK = 256


def model_predictions_missing_create(*, chunk_size: int = INFERENCE_CHUNK, limit: int | None = None) -> int:
    """Label, with the active model, every report that has no prediction from it.

    Chunked, resumable and idempotent: each chunk is committed on its own, and a
    rerun continues where a lost or killed job stopped. Returns reports labelled.
    """
    from ml_worker.predictors import predictor_for_version  # here: loading a model imports torch

    version = active_model_version_get()
    if version is None:
        return 0
    predictor = predictor_for_version(version)
    done = MachinePrediction.objects.filter(source=MachinePrediction.Source.MODEL, model_version=version).values("report_id")
    written = 0
    while limit is None or written < limit:
        rows = list(Report.objects.exclude(id__in=done).order_by("id").values_list("id", "text")[:chunk_size])
        if not rows:
            break
        predictions = predictor.predict([text for _, text in rows])
        model_predictions_store(
            model_version=version,
            report_ids=[report_id for report_id, _ in rows],
            labels=[p.labels for p in predictions],
            probabilities=[p.probabilities for p in predictions],
        )
        written += len(rows)
        if not ModelVersion.objects.filter(id=version.id, is_active=True).exists():
            break  # promoted away mid-job: the new version's job takes over
    return written


def model_relabel_progress() -> dict[str, int | str | None]:
    version = active_model_version_get()
    total = Report.objects.count()
    if version is None:
        return {"version": None, "labelled": 0, "total": total}
    labelled = MachinePrediction.objects.filter(source=MachinePrediction.Source.MODEL, model_version=version).count()
    return {"version": version.name, "labelled": labelled, "total": total}
