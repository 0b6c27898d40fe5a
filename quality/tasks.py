"""Celery tasks of the quality app. Thin: call a service."""

from __future__ import annotations

import time
from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache

from quality.services import (
    statistics_refresh,
    statistics_refresh_duration_record,
    statistics_refresh_queued_clear,
    statistics_refresh_recent,
)

# One refresh at a time (several workers, beat and changes may queue them together);
# the lock expires on its own should a worker die holding it.
_RUNNING_KEY = "chexgold:statistics:refresh-running"
_RUNNING_TIMEOUT = 1800


@shared_task(name="quality.tasks.statistics_refresh_task", acks_late=True)
def statistics_refresh_task() -> dict[str, object]:
    """Refresh stored statistics (standard views, then recent per-user views); queued on change and by beat.
    Skipped while another refresh runs: figures it leaves behind the data are
    marked stale and queue the next refresh when viewed (and beat runs one within 300 s)."""
    statistics_refresh_queued_clear()
    if not cache.add(_RUNNING_KEY, 1, timeout=_RUNNING_TIMEOUT):
        return {"skipped": "another refresh is running"}
    started = time.monotonic()
    try:
        return {"standard": asdict(statistics_refresh()), "per_user": asdict(statistics_refresh_recent())}
    finally:
        statistics_refresh_duration_record(time.monotonic() - started)
        cache.delete(_RUNNING_KEY)
