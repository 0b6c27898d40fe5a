"""Liveness (/healthz) and readiness (/health/): JSON, 200 only when the database,
cache, broker, a worker per queue and the model store's disk are all fine."""

from __future__ import annotations

import pytest

from operations import broker

ALL_QUEUES = {"default": ["w@h"], "gpu": ["g@h"]}


def test_healthz_is_cheap_liveness(db, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def broker_up(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(broker, "broker_ping", lambda **kw: None)


def test_ready_when_every_check_passes(db, client, broker_up, monkeypatch, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_MODEL_DIR = tmp_path
    monkeypatch.setattr(broker, "workers_by_queue", lambda **kw: ALL_QUEUES)
    response = client.get("/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "OK", "cache": "OK", "broker": "OK", "workers": "OK", "model_store_disk": "OK"}


def test_a_queue_without_worker_is_not_ready(db, client, broker_up, monkeypatch, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_MODEL_DIR = tmp_path
    monkeypatch.setattr(broker, "workers_by_queue", lambda **kw: {"default": ["w@h"]})
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "unavailable: no worker for queue gpu"


def test_unreachable_broker_is_not_ready(db, client, monkeypatch, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chexgold.celery import app
    from tests.conftest import _celery_point_at

    settings.CHEXGOLD_MODEL_DIR = tmp_path
    old = app.conf.broker_url, app.conf.result_backend
    _celery_point_at(app, broker="redis://127.0.0.1:1/0", backend=old[1])  # nothing listens on port 1
    try:
        response = client.get("/health/")
    finally:
        _celery_point_at(app, broker=old[0], backend=old[1])
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"].startswith("unavailable: broker unreachable")
    assert body["checks"]["database"] == "OK" and body["checks"]["cache"] == "OK"


def test_full_or_missing_model_store_is_not_ready(db, client, broker_up, monkeypatch, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(broker, "workers_by_queue", lambda **kw: ALL_QUEUES)
    settings.CHEXGOLD_MODEL_DIR = tmp_path
    settings.CHEXGOLD_HEALTH_MAX_DISK_PERCENT = 0.0  # any use counts as full
    full = client.get("/health/")
    assert full.status_code == 503 and "% full" in full.json()["checks"]["model_store_disk"]
    settings.CHEXGOLD_MODEL_DIR = tmp_path / "missing"
    missing = client.get("/health/")
    assert missing.status_code == 503 and "unreadable" in missing.json()["checks"]["model_store_disk"]


@pytest.mark.pg
@pytest.mark.worker
@pytest.mark.slow
def test_ready_with_real_workers_on_redis(start_worker, client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The readiness check asks the real broker which workers consume which queue."""
    settings.CHEXGOLD_MODEL_DIR = tmp_path
    start_worker("default")
    half = client.get("/health/")
    assert half.status_code == 503 and half.json()["checks"]["workers"] == "unavailable: no worker for queue gpu"
    start_worker("gpu")
    ready = client.get("/health/")
    assert ready.status_code == 200, ready.json()
