"""Reads for the training and model pages."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from labeling.models import ModelVersion
from labeling.observations import OBSERVATION_NAMES
from labeling.routing import model_is_usable, routing_table
from labeling.selectors import active_model_version_get
from ml_worker.models import TrainingRun


def training_runs_recent(*, limit: int = 30) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("started_by", "produced_version", "base_version").order_by("-created_at")[:limit]


def training_run_counts_by_status() -> dict[str, int]:
    """Number of training runs in each status, every status present (0 when none)."""
    counts = dict(TrainingRun.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in TrainingRun.Status.values}


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


def active_routing() -> list[dict[str, object]]:
    """Who pre-fills each observation now, and why (the active version's gate): the
    Models page's routing table. Without an active version that passed its gate,
    the rules pre-fill every observation."""
    active = active_model_version_get()
    gate = active.gate if active is not None else {}
    usable = model_is_usable(gate)
    table = routing_table(gate) if usable else {name: "rules" for name in OBSERVATION_NAMES}
    reasons = {o["observation"]: o for o in gate.get("observations", [])}
    rows = []
    for name in OBSERVATION_NAMES:
        row = reasons.get(name, {})
        if active is None:
            why = "no active model version"
        elif not usable:
            why = f"{active.name} did not pass its gate: {gate.get('reason', 'never judged')}"
        else:
            why = row.get("reason", "")
        rows.append({"observation": name, "source": table[name], "why": why, "model_f1": row.get("model_f1"),
                     "rules_f1": row.get("rules_f1"), "difference": row.get("difference"),
                     "contests": usable})
    return rows
