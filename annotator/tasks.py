"""Celery tasks of the review workflow (`default` queue). Thin: call a service."""

from __future__ import annotations

from celery import shared_task

from annotator.services.assignment import report_priorities_refresh_once


@shared_task(name="annotator.tasks.report_priorities_refresh_task", acks_late=True)
def report_priorities_refresh_task() -> bool:
    """Queued by name after an import's reports are stored (labeling.services.prelabel)
    and when a model version is activated (ml_worker.services.registry), so the
    queue order is current before readers ask for the new reports."""
    return report_priorities_refresh_once(wait=True)
