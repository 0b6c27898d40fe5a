"""Celery tasks of the `gpu` queue (routed by name: ml_worker.tasks.*). Thin:
take ids, call a service. Models load lazily, once per worker process (the
services import torch only when they train or load a model)."""

from __future__ import annotations

import os

from celery import shared_task
from celery.signals import worker_shutting_down

from ml_worker.services import (
    WORKER_STOPPING,
    demo_first_model_train,
    model_predictions_missing_create,
    training_periodic_check,
    training_run_execute,
    training_runs_stalled_fail,
)


@worker_shutting_down.connect
def _stop_training_at_next_step(**kwargs: object) -> None:
    WORKER_STOPPING.set()


@shared_task(name="ml_worker.tasks.ping_gpu")
def ping_gpu(value: str = "pong") -> dict[str, str]:
    """Health check for GPU workers; reports which worker served it."""
    return {"value": value, "queue": "gpu", "pid": str(os.getpid())}


@shared_task(name="ml_worker.tasks.training_run_execute_task", acks_late=True)
def training_run_execute_task(run_id: int) -> str:
    return training_run_execute(run_id=run_id).status


@shared_task(name="ml_worker.tasks.model_predictions_missing_task", acks_late=True)
def model_predictions_missing_task() -> int:
    """Label reports that lack a prediction from the active model version."""
    return model_predictions_missing_create()


@shared_task(name="ml_worker.tasks.training_periodic_check_task")
def training_periodic_check_task() -> int | None:
    run = training_periodic_check()
    return run.id if run else None


@shared_task(name="ml_worker.tasks.training_runs_stalled_fail_task")
def training_runs_stalled_fail_task() -> dict[str, list[int]]:
    return training_runs_stalled_fail()


@shared_task(name="ml_worker.tasks.demo_first_model_task", acks_late=True)
def demo_first_model_task() -> str:
    """Train a first model version from rule labels when none exists yet."""
    return demo_first_model_train()
