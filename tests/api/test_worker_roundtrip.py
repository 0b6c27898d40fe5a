"""Through a real worker: an API upload is imported and labelled; an import
whose worker died (batch stuck in `importing`, message gone) is found and
finished when a worker starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import ImportBatch, MachinePrediction, Report
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker]



def test_api_upload_round_trip_and_lost_import_resumed_on_worker_start(start_worker, make_user, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_UPLOAD_DIR = tmp_path
    # A batch whose worker was killed mid-import: status importing, no message left.
    lost_file = tmp_path / "lost.csv"
    lost_file.write_bytes(b"id,Reports\nL1,Small right pleural effusion.\nL2,No acute disease.\n")
    lost = ImportBatch.objects.create(filename="lost.csv", stored_path=str(lost_file), status=ImportBatch.Status.IMPORTING,
                                      started_at=timezone.now())
    worker = start_worker("default", extra_env={"CHEXGOLD_UPLOAD_DIR": str(tmp_path), "CHEXGOLD_STALLED_IMPORT_MINUTES": "0"})
    assert wait_until(lambda: ImportBatch.objects.get(id=lost.id).status == "succeeded", timeout=90.0), worker.output()[-3000:]

    client = APIClient()
    client.force_authenticate(make_user("api-admin", "admin"))
    upload = SimpleUploadedFile("two.csv", b"id,Reports\nW1,Large left pleural effusion.\nW2,No acute disease.\n", content_type="text/csv")
    res = client.post("/api/imports/", {"file": upload}, format="multipart")
    assert res.status_code == 202, res.content
    task = res.json()["task"]
    assert wait_until(lambda: client.get(f"/api/tasks/{task}/").json()["done"], timeout=90.0), worker.output()[-3000:]
    status = client.get(f"/api/tasks/{task}/").json()
    assert status["state"] == "succeeded" and status["progress"] == 1.0
    assert set(Report.objects.values_list("external_id", flat=True)) == {"L1", "L2", "W1", "W2"}
    assert wait_until(lambda: MachinePrediction.objects.filter(source="rules").count() == 4, timeout=90.0), worker.output()[-3000:]
