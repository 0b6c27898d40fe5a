"""One log line per request and per Celery task. With CHEXGOLD_LOG_FORMAT=json
(the production default) each is a JSON object (python-json-logger, settings.LOGGING).

Only what operations needs: method, path (never the query string), status,
duration and the user's id for a request; name, id, state and duration for a
task. Never report text, labels or form data (protected health information)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("chexgold.requests")
task_logger = logging.getLogger("chexgold.tasks")


class RequestLogMiddleware:
    """Placed first, so the duration covers every other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.monotonic()
        response = self.get_response(request)
        duration_ms = round((time.monotonic() - start) * 1000, 1)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        request_logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={"method": request.method, "path": request.path, "status": response.status_code,
                   "duration_ms": duration_ms, "user_id": user_id},
        )
        return response


_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


def _task_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    started = _task_started.pop(task_id or "", None)
    duration_ms = round((time.monotonic() - started) * 1000, 1) if started is not None else None
    name = getattr(task, "name", "?")
    task_logger.info(
        "task %s %s %s", name, state, duration_ms,
        extra={"task": name, "task_id": task_id, "state": state, "duration_ms": duration_ms},
    )


def task_logging_connect() -> None:
    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="chexgold-task-prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="chexgold-task-postrun")
