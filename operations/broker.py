"""What the Celery broker and its workers say: the readiness check and the
metrics read them here (sent through the running Celery app, never imported
from `chexgold`, which sits above this app)."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings


def celery_queue_names() -> list[str]:
    """The queues production runs a worker for (chexgold.celery: `default` and `gpu`)."""
    return list(settings.CHEXGOLD_HEALTH_QUEUES)


def broker_ping(*, timeout: int = 2) -> None:
    """Connect to the broker once; raises when it cannot be reached."""
    with current_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def workers_by_queue(*, timeout: float = 1.0) -> dict[str, list[str]]:
    """Queue name -> names of the live workers consuming it (a broadcast that every
    worker answers within `timeout`). Raises NotImplementedError on a broker without
    broadcast (the SQLite broker of a local install)."""
    replies = current_app.control.inspect(timeout=timeout).active_queues() or {}
    found: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for queue in queues or []:
            found.setdefault(queue.get("name", ""), []).append(worker)
    return found


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each queue (Redis: LLEN of the queue's lists, via kombu)."""
    lengths: dict[str, int] = {}
    with current_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel: Any = conn.default_channel  # kombu's virtual channel (Redis): queue_declare gives the count
        for name in celery_queue_names():
            try:
                lengths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:  # noqa: BLE001 - a queue nobody declared yet holds nothing
                lengths[name] = 0
    return lengths
