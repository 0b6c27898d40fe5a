"""Batch inference of the active model: label reports that lack its prediction
(chunked, resumable), and the re-labelling progress."""

from __future__ import annotations

from django.conf import settings

from labeling.models import MachinePrediction, ModelVersion, Report
from labeling.routing import PrefillCell, model_is_usable, route
from labeling.rules import RULES_VERSION, label_reports
from labeling.selectors import (
    active_model_version_get,
    runtime_settings_get,
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


ROUTED_API_MAX_TEXTS = 100


def routed_labels_for_texts(*, texts: list[str], mode: str | None = None) -> list[dict[str, PrefillCell]]:
    """Label new report text the way the review page pre-fills it: rule labels,
    the active version's labels where its gate lets it take part, routed per
    observation (`labeling.routing.route`) in the site's pre-fill mode (or `mode`)."""
    rules = label_reports(texts, section=settings.CHEXGOLD_LABEL_SECTION)
    version = active_model_version_get()
    predictions = None
    if version is not None and model_is_usable(version.gate):
        from ml_worker.predictors import predictor_for_version  # here: loading a model imports torch

        predictions = predictor_for_version(version).predict(texts)
    mode = mode or runtime_settings_get().prefill
    return [
        route(
            rules=r.labels, rules_version=RULES_VERSION,
            model=predictions[i].labels if predictions else None,
            model_version=version.name if predictions and version else None,
            probabilities=predictions[i].probabilities if predictions else None,
            gate=version.gate if version is not None else None, mode=mode,
            min_probability=settings.CHEXGOLD_PREFILL_MIN_PROBABILITY,
        )
        for i, r in enumerate(rules)
    ]
