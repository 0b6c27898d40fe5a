"""Celery tasks of the quality app. Thin: call a service."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from quality.services import statistics_refresh, statistics_refresh_queued_clear, statistics_refresh_recent


@shared_task(name="quality.tasks.statistics_refresh_task", acks_late=True)
def statistics_refresh_task() -> dict[str, object]:
    """Refresh stored statistics (standard views, then recent per-user views); queued on change and by beat."""
    statistics_refresh_queued_clear()
    return {"standard": asdict(statistics_refresh()), "per_user": asdict(statistics_refresh_recent())}
