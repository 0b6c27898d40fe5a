"""Real Celery worker processes, never eager mode: routing and a task round trip.

Runs in the embedded pass (SQLite file database + SQLite-file broker) and in the
PostgreSQL + Redis pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import ImportBatch, MachinePrediction, Report
from labeling.tasks import ping
from ml_worker.tasks import ping_gpu
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_each_queue_is_served_by_its_own_worker(start_worker) -> None:  # type: ignore[no-untyped-def]
    default_worker = start_worker("default")
    gpu_worker = start_worker("gpu")
    cpu_reply = ping.delay("a").get(timeout=60)
    gpu_reply = ping_gpu.delay("b").get(timeout=60)
    assert cpu_reply["pid"] == str(default_worker.process.pid)
    assert gpu_reply["pid"] == str(gpu_worker.process.pid)
    assert "Task ml_worker.tasks.ping_gpu[" not in default_worker.output()
    assert "Task labeling.tasks.ping[" not in gpu_worker.output()


def test_uploaded_file_is_imported_and_labelled_by_a_worker(start_worker, make_user, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from labeling.services.uploads import report_upload_accept

    settings.CHEXGOLD_UPLOAD_DIR = tmp_path
    worker = start_worker("default", extra_env={"CHEXGOLD_UPLOAD_DIR": str(tmp_path)})
    admin = make_user("admin1", "admin")
    upload = SimpleUploadedFile("two.csv", b"id,Reports\nW1,Large left pleural effusion.\nW2,No acute disease.\n")
    batch = report_upload_accept(upload=upload, user=admin)
    result = wait_until(lambda: ImportBatch.objects.get(id=batch.id).status in ("succeeded", "failed"), timeout=60.0)
    assert result, f"import task did not finish:\n{worker.output()[-3000:]}"
    batch.refresh_from_db()
    assert batch.status == "succeeded", batch.errors
    assert set(Report.objects.values_list("external_id", flat=True)) == {"W1", "W2"}
    assert wait_until(lambda: MachinePrediction.objects.filter(source="rules").count() == 2, timeout=60.0)
    effusion = MachinePrediction.objects.get(report__external_id="W1", source="rules")
    assert effusion.labels["Pleural Effusion"] == "positive"


def test_bad_upload_fails_cleanly_through_the_worker(start_worker, make_user, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from labeling.services.uploads import report_upload_accept

    settings.CHEXGOLD_UPLOAD_DIR = tmp_path
    start_worker("default")
    upload = SimpleUploadedFile("bad.csv", b"id,Reports\nB1,ok\nB2,\n")
    batch = report_upload_accept(upload=upload, user=make_user("admin2", "admin"))
    assert wait_until(lambda: ImportBatch.objects.get(id=batch.id).status in ("succeeded", "failed"), timeout=60.0)
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.errors[0]["line"] == 3
    assert Report.objects.count() == 0


