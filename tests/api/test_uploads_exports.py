"""Uploads: clear 400s with line numbers, size and type limits; streamed exports."""

from __future__ import annotations

import csv
import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import ImportBatch
from tests.factories import GoldLabelFactory, ReportFactory, RulePredictionFactory, labels


def _upload(client, name, content, content_type="text/csv"):  # type: ignore[no-untyped-def]
    return client.post("/api/imports/", {"file": SimpleUploadedFile(name, content, content_type=content_type)}, format="multipart")


def test_malformed_csv_lists_every_bad_line_and_queues_nothing(client_for):  # type: ignore[no-untyped-def]
    content = b'id,Reports\nA1,Heart normal.\nA2,\nA3,"unterminated, text\n'
    res = _upload(client_for("admin"), "bad.csv", content)
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["code"] == "invalid_upload" and "Traceback" not in res.content.decode()
    assert any(e["line"] == 3 for e in body["errors"]), body
    assert not ImportBatch.objects.exists()


def test_malformed_jsonl_line_numbers(client_for):  # type: ignore[no-untyped-def]
    content = b'{"id": "a", "text": "ok"}\n{not json}\n{"id": "b"}\n'
    res = _upload(client_for("admin"), "bad.jsonl", content, "application/x-ndjson")
    assert res.status_code == 400
    lines = sorted(e["line"] for e in res.json()["errors"])
    assert lines == [2, 3], res.json()


def test_not_utf8_is_reported_by_line(client_for):  # type: ignore[no-untyped-def]
    res = _upload(client_for("admin"), "latin.csv", b"id,Reports\nA1,ok\nA2,caf\xe9\n")
    assert res.status_code == 400
    assert any(e["line"] == 3 and "UTF-8" in e["message"] for e in res.json()["errors"])


def test_wrong_content_type_and_extension(client_for):  # type: ignore[no-untyped-def]
    res = _upload(client_for("admin"), "scan.png", b"\x89PNG....", "image/png")
    assert res.status_code == 400
    messages = " ".join(e["message"] for e in res.json()["errors"])
    assert "unsupported file type" in messages and "content type" in messages


def test_missing_file_is_400(client_for):  # type: ignore[no-untyped-def]
    res = client_for("admin").post("/api/imports/", {}, format="multipart")
    assert res.status_code == 400 and res.json()["code"] == "invalid_upload"


def test_upload_over_size_limit(client_for, settings):  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_MAX_UPLOAD_MB = 1
    res = _upload(client_for("admin"), "big.csv", b"id,Reports\n" + b"A,x\n" * 300_000)
    assert res.status_code == 400 and "limit is 1 MB" in res.json()["errors"][0]["message"]


def test_good_upload_is_accepted_and_has_a_status(client_for, django_capture_on_commit_callbacks, monkeypatch):  # type: ignore[no-untyped-def]
    from labeling import tasks

    sent = []
    monkeypatch.setattr(tasks.report_import_task, "delay", lambda batch_id: sent.append(batch_id))
    admin = client_for("admin")
    with django_capture_on_commit_callbacks(execute=True):
        res = _upload(admin, "ok.csv", b"id,Reports\nA1,Heart normal.\n")
    assert res.status_code == 202, res.content
    batch_id = res.json()["id"]
    assert sent == [batch_id]
    assert res.json()["task"] == f"import-{batch_id}"
    status = admin.get(f"/api/tasks/import-{batch_id}/").json()
    assert status["state"] == "pending" and status["done"] is False
    assert admin.get(f"/api/imports/{batch_id}/").json()["status"] == "pending"


def _content(response) -> str:  # type: ignore[no-untyped-def]
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_gold_export_streams_csv_and_jsonl(client_for):  # type: ignore[no-untyped-def]
    g = GoldLabelFactory(report=ReportFactory(external_id="X1", text="Heart, normal."), labels=labels(edema="positive"))
    admin = client_for("admin")
    res = admin.get("/api/gold/export/?format=csv")
    assert res.status_code == 200 and res["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(_content(res))))
    assert rows[0][:3] == ["Reports", "id", "No Finding"]
    assert rows[1][0] == "Heart, normal." and rows[1][1] == "X1" and rows[1][rows[0].index("Edema")] == "1.0"
    res = admin.get("/api/gold/export/?format=jsonl")
    record = json.loads(_content(res).splitlines()[0])
    assert record["id"] == "X1" and record["provenance"]["gold_label_id"] == g.id
    assert admin.get("/api/gold/export/?format=xml").status_code == 400
    assert admin.get("/api/gold/export/?version=nope").status_code == 404


def test_gold_export_by_version_and_compare(client_for):  # type: ignore[no-untyped-def]
    GoldLabelFactory(report=ReportFactory(external_id="X1"))
    admin = client_for("admin")
    admin.post("/api/gold/versions/", {"name": "g1"}, format="json")
    GoldLabelFactory(report=ReportFactory(external_id="X2"))
    admin.post("/api/gold/versions/", {"name": "g2"}, format="json")
    assert admin.post("/api/gold/versions/", {"name": "g2"}, format="json").status_code == 400
    rows = list(csv.reader(io.StringIO(_content(admin.get("/api/gold/export/?version=g1")))))
    assert [r[1] for r in rows[1:]] == ["X1"]
    cmp = admin.get("/api/gold/versions/compare/?a=g1&b=g2").json()
    assert cmp["added"] == ["X2"] and cmp["removed"] == [] and cmp["unchanged"] == 1
    names = [v["name"] for v in admin.get("/api/gold/versions/").json()["results"]]
    assert names == ["g2", "g1"]


def test_prediction_export(client_for):  # type: ignore[no-untyped-def]
    RulePredictionFactory(report=ReportFactory(external_id="P1"), labels=labels(fracture="uncertain"), source_version="r1")
    admin = client_for("admin")
    rows = list(csv.reader(io.StringIO(_content(admin.get("/api/predictions/export/?source=rules&version=r1")))))
    assert rows[1][1] == "P1" and rows[1][rows[0].index("Fracture")] == "-1.0"
    assert admin.get("/api/predictions/export/?source=model").status_code == 404
