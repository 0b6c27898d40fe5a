"""chexgold's own Prometheus gauges, computed from the database and the broker
at each scrape (so every gunicorn process answers the same numbers). The
request and database metrics come from django-prometheus."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from annotator.selectors.backlog import reports_awaiting_adjudication_count, reports_awaiting_reads_count
from annotator.selectors.gold import gold_current_count
from labeling.selectors import active_model_version_get
from ml_worker.selectors import training_run_counts_by_status
from operations import broker

logger = logging.getLogger(__name__)


class ChexgoldCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "chexgold_reports_awaiting_reads", "Unflagged reports without gold and with fewer than k submitted reads",
            value=reports_awaiting_reads_count(),
        )
        yield GaugeMetricFamily(
            "chexgold_reports_awaiting_adjudication", "Reports in the adjudication queue",
            value=reports_awaiting_adjudication_count(),
        )
        yield GaugeMetricFamily("chexgold_gold_labels", "Reports with current gold labels", value=gold_current_count())
        active = GaugeMetricFamily("chexgold_active_model_version", "1 for the active model version", labels=["version"])
        version = active_model_version_get()
        if version is not None:
            active.add_metric([version.name], 1)
        yield active
        runs = GaugeMetricFamily("chexgold_training_runs", "Training runs by status", labels=["status"])
        for status, n in training_run_counts_by_status().items():
            runs.add_metric([status], n)
        yield runs
        queues = GaugeMetricFamily("chexgold_celery_queue_length", "Messages waiting in each Celery queue", labels=["queue"])
        up = GaugeMetricFamily("chexgold_broker_up", "1 when the broker answered this scrape")
        try:
            lengths = broker.queue_lengths()
        except Exception:  # noqa: BLE001 - a broker outage must not hide the other metrics
            logger.warning("broker unreachable while collecting metrics")
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for name, n in lengths.items():
                queues.add_metric([name], n)
        yield queues
        yield up


_registered = False


def collector_register() -> None:
    """Register the collector once per process (the first /metrics request)."""
    global _registered
    if not _registered:
        REGISTRY.register(ChexgoldCollector())
        _registered = True
