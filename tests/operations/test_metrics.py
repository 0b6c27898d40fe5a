"""/metrics: Prometheus text for a bearer token (CHEXGOLD_METRICS_TOKEN; unset -> 404,
wrong -> 401), with django-prometheus' request metrics and chexgold's own gauges."""

from __future__ import annotations

import os
import re

from operations import broker
from tests.conftest import _celery_point_at, _redis_available, require_service
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory

TOKEN = "s3cret-metrics-token"


def metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, flags=re.M)
    assert match, f"{name}{labels} missing"
    return float(match.group(1))


def test_metrics_do_not_exist_without_a_token(db, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_a_wrong_token_is_refused(db, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # the scheme is required


def test_gauges_count_the_review_backlog_models_runs_and_queues(db, client, settings, settings_row, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ml_worker.models import TrainingRun

    settings.CHEXGOLD_METRICS_TOKEN = TOKEN
    ReportFactory.create_batch(2)  # unread
    one_read = ReportFactory()
    AnnotationFactory(report=one_read, status="submitted")
    conflict = ReportFactory()  # k = 2 submitted reads, no gold: the adjudication queue
    AnnotationFactory.create_batch(2, report=conflict, status="submitted")
    GoldLabelFactory.create_batch(3)  # gold: neither backlog
    ReportFactory(is_flagged=True)  # flagged: neither backlog
    ModelVersionFactory(name="v-old")
    ModelVersionFactory(name="v-live", is_active=True)
    TrainingRun.objects.create(stage="gold", status="succeeded")
    TrainingRun.objects.create(stage="gold", status="failed")
    TrainingRun.objects.create(stage="silver", status="failed")
    monkeypatch.setattr(broker, "queue_lengths", lambda: {"default": 4, "gpu": 1})

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert metric(text, "chexgold_reports_awaiting_reads") == 3
    assert metric(text, "chexgold_reports_awaiting_adjudication") == 1
    assert metric(text, "chexgold_gold_labels") == 3
    assert metric(text, "chexgold_active_model_version", '{version="v-live"}') == 1
    assert 'version="v-old"' not in text
    assert metric(text, "chexgold_training_runs", '{status="failed"}') == 2
    assert metric(text, "chexgold_training_runs", '{status="succeeded"}') == 1
    assert metric(text, "chexgold_training_runs", '{status="running"}') == 0
    assert metric(text, "chexgold_celery_queue_length", '{queue="default"}') == 4
    assert metric(text, "chexgold_broker_up") == 1
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus' own


def test_a_broker_outage_leaves_the_other_gauges(db, client, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_METRICS_TOKEN = TOKEN

    def down() -> dict[str, int]:
        raise ConnectionError("no broker")

    monkeypatch.setattr(broker, "queue_lengths", down)
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert metric(text, "chexgold_broker_up") == 0
    assert metric(text, "chexgold_gold_labels") == 0


def test_queue_lengths_are_read_from_redis(db) -> None:  # type: ignore[no-untyped-def]
    """LLEN of each queue through kombu: messages sent with no worker running stay queued."""
    import redis

    from chexgold.celery import app
    from labeling.tasks import ping
    from ml_worker.tasks import ping_gpu

    url = os.environ.get("CHEXGOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    ok, why = _redis_available(url)
    require_service(ok, why)
    redis.Redis.from_url(url).flushdb()
    old = app.conf.broker_url, app.conf.result_backend
    _celery_point_at(app, broker=url, backend=url)
    try:
        for _ in range(3):
            ping.delay("x")
        ping_gpu.delay("y")
        assert broker.queue_lengths() == {"default": 3, "gpu": 1}
    finally:
        redis.Redis.from_url(url).flushdb()
        _celery_point_at(app, broker=old[0], backend=old[1])

