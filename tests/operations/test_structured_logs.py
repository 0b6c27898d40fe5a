"""One log line per request and per Celery task; JSON objects with
CHEXGOLD_LOG_FORMAT=json (the production default); never report text."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from celery.signals import task_postrun, task_prerun

from tests.factories import ReportFactory

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_one_line_per_request_with_user_and_without_query_or_text(db, client, make_user, caplog) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    report = ReportFactory(text="FINDINGS: SECRET-PATIENT-TEXT")
    client.force_login(reader)
    with caplog.at_level(logging.INFO, logger="chexgold.requests"):
        client.get("/healthz?q=SECRET-QUERY")
        client.get(f"/api/reports/{report.id}/")
    records = [r for r in caplog.records if r.name == "chexgold.requests"]
    assert len(records) == 2
    first = records[0]
    assert (first.method, first.path, first.status, first.user_id) == ("GET", "/healthz", 200, reader.pk)  # type: ignore[attr-defined]
    assert first.duration_ms >= 0  # type: ignore[attr-defined]
    for record in records:
        line = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert "SECRET" not in line


def test_one_line_per_task(caplog) -> None:  # type: ignore[no-untyped-def]
    class FakeTask:
        name = "labeling.tasks.ping"

    with caplog.at_level(logging.INFO, logger="chexgold.tasks"):
        task_prerun.send(sender=FakeTask, task_id="t-1", task=FakeTask(), args=("PHI?",), kwargs={})
        task_postrun.send(sender=FakeTask, task_id="t-1", task=FakeTask(), args=("PHI?",), kwargs={}, retval="x", state="SUCCESS")
    (record,) = [r for r in caplog.records if r.name == "chexgold.tasks"]
    assert (record.task, record.task_id, record.state) == ("labeling.tasks.ping", "t-1", "SUCCESS")  # type: ignore[attr-defined]
    assert record.duration_ms is not None and "PHI" not in record.getMessage()  # type: ignore[attr-defined]


def test_json_format_writes_one_object_per_request(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "CHEXGOLD_LOG_FORMAT": "json", "CHEXGOLD_VAR_DIR": str(tmp_path), "DJANGO_ALLOWED_HOSTS": "testserver",
           "DJANGO_SETTINGS_MODULE": "chexgold.settings", "HF_HUB_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    code = "import django; django.setup(); from django.test import Client; print(Client().get('/healthz').status_code)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "200", done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (request,) = [line for line in lines if line.get("logger") == "chexgold.requests"]
    assert request["method"] == "GET" and request["path"] == "/healthz" and request["status"] == 200
    assert request["user_id"] is None and request["level"] == "INFO" and "time" in request
