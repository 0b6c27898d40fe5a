"""Readiness checks (django-health-check backends) that the library has no
ready-made form of: the broker, and at least one live worker per queue."""

from __future__ import annotations

import dataclasses
import shutil

from django.conf import settings
from health_check.backends import HealthCheck
from health_check.exceptions import ServiceUnavailable

from operations import broker


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection."""

    def check_status(self) -> None:
        try:
            broker.broker_ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            self.add_error(ServiceUnavailable(f"broker unreachable: {type(exc).__name__}"), exc)


@dataclasses.dataclass
class QueueWorkers(HealthCheck):
    """At least one live worker consumes each queue in CHEXGOLD_HEALTH_QUEUES."""

    def check_status(self) -> None:
        try:
            found = broker.workers_by_queue(timeout=settings.CHEXGOLD_HEALTH_WORKER_TIMEOUT)
        except NotImplementedError as exc:
            self.add_error(ServiceUnavailable("this broker cannot list workers (use Redis in production)"), exc)
            return
        except Exception as exc:  # noqa: BLE001
            self.add_error(ServiceUnavailable(f"workers unreachable: {type(exc).__name__}"), exc)
            return
        for queue in broker.celery_queue_names():
            if not found.get(queue):
                self.add_error(ServiceUnavailable(f"no worker for queue {queue}"))


@dataclasses.dataclass
class ModelStoreDisk(HealthCheck):
    """The model store (CHEXGOLD_MODEL_DIR, where training writes checkpoints) exists
    and is less than CHEXGOLD_HEALTH_MAX_DISK_PERCENT full."""

    def check_status(self) -> None:
        path = settings.CHEXGOLD_MODEL_DIR
        try:
            usage = shutil.disk_usage(path)
        except OSError as exc:
            self.add_error(ServiceUnavailable(f"model store {path} unreadable: {type(exc).__name__}"), exc)
            return
        percent = 100.0 * usage.used / usage.total if usage.total else 100.0
        if percent >= settings.CHEXGOLD_HEALTH_MAX_DISK_PERCENT:
            self.add_error(ServiceUnavailable(f"model store disk {percent:.1f} % full"))
