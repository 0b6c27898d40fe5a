"""POST /api/labels/imports/ (gold, reads, predictions) and the export API's
uncertainty policy."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Annotation, GoldLabel, LabelImport, MachinePrediction
from labeling.observations import OBSERVATION_NAMES
from tests.factories import GoldLabelFactory, ReportFactory, RulePredictionFactory, labels

pytestmark = pytest.mark.both_backends
HEADER = ",".join(OBSERVATION_NAMES)
URL = "/api/labels/imports/"


def _cells(**values: str) -> str:
    cells = {n: "" for n in OBSERVATION_NAMES}
    for key, value in values.items():
        cells[next(n for n in OBSERVATION_NAMES if n.lower() == key.replace("_", " ").lower())] = value
    return ",".join(cells[n] for n in OBSERVATION_NAMES)


def _post(client, content: bytes, name: str = "labels.csv", content_type: str = "text/csv", **fields):  # type: ignore[no-untyped-def]
    return client.post(URL, {"file": SimpleUploadedFile(name, content, content_type=content_type), **fields}, format="multipart")


def test_gold_then_unchanged_then_listed(client_for):  # type: ignore[no-untyped-def]
    ReportFactory(external_id="A1")
    admin = client_for("admin")
    content = f"id,{HEADER}\nA1,{_cells(edema='-1', no_finding='')}\n".encode()
    res = _post(admin, content, **{"as": "gold"})
    assert res.status_code == 201, res.content
    body = res.json()
    assert (body["kind"], body["created"], body["changed"], body["gold_version"]) == ("gold", 1, True, f"import-{body['import_id']}")
    gold = GoldLabel.objects.get()
    assert gold.method == "imported" and gold.label_import.created_by.username == "boss"  # type: ignore[union-attr]
    again = _post(admin, content, **{"as": "gold"})
    assert again.status_code == 200 and again.json()["unchanged"] == 1 and again.json()["import_id"] is None
    listed = admin.get(URL).json()["results"]
    assert [(r["filename"], r["kind"], r["created_by"], r["rows_created"]) for r in listed] == [("labels.csv", "gold", "boss", 1)]


def test_bad_rows_answer_400_with_every_line_and_column(client_for):  # type: ignore[no-untyped-def]
    ReportFactory(external_id="A1")
    GoldLabelFactory(report=ReportFactory(external_id="A2"), labels=labels(edema="positive"))
    content = f"id,{HEADER}\nA1,{_cells(edema='5')}\nZZ,{_cells()}\nA2,{_cells(edema='0')}\n".encode()
    res = _post(client_for("admin"), content, **{"as": "gold"})
    assert res.status_code == 400 and res.json()["code"] == "invalid_upload"
    errors = [(e["line"], e["column"]) for e in res.json()["errors"]]
    assert errors == [(2, "Edema"), (3, "id"), (4, "id")]
    assert GoldLabel.objects.count() == 1 and not LabelImport.objects.exists()
    # With replace, A2's differing gold is superseded (the others are fixed first).
    fixed = f"id,{HEADER}\nA1,{_cells(edema='1')}\nA2,{_cells(edema='0')}\n".encode()
    res = _post(client_for("admin"), fixed, **{"as": "gold", "replace": "true"})
    assert res.status_code == 201 and (res.json()["created"], res.json()["replaced"]) == (1, 1)


def test_reads_and_predictions(client_for, settings_row):  # type: ignore[no-untyped-def]
    ReportFactory(external_id="A1")
    admin = client_for("admin")
    content = f"id,{HEADER}\nA1,{_cells(no_finding='1')}\n".encode()
    res = _post(admin, content, **{"as": "reads", "reader": "api_reader"})
    assert res.status_code == 201 and res.json()["reader_created"] is True
    assert Annotation.objects.get().reader == get_user_model().objects.get(username="api_reader")
    zeros = f"id,{HEADER}\nA1,{_cells(no_finding='0', edema='1')}\n".encode()
    res = _post(admin, zeros, **{"as": "predictions", "labeler": "vendor-x", "zero_means": "blank"})
    assert res.status_code == 201, res.content
    prediction = MachinePrediction.objects.get(source="external")
    assert prediction.source_version == "vendor-x" and prediction.labels["No Finding"] == "blank"
    assert prediction.labels["Edema"] == "positive"


def test_jsonl_upload(client_for):  # type: ignore[no-untyped-def]
    ReportFactory(external_id="J1")
    res = _post(client_for("admin"), b'{"id": "J1", "labels": {"Edema": 1}}\n', "labels.jsonl", "application/x-ndjson", **{"as": "gold"})
    assert res.status_code == 201 and GoldLabel.objects.get().labels["Edema"] == "positive"


def test_option_errors(client_for):  # type: ignore[no-untyped-def]
    admin = client_for("admin")
    content = f"id,{HEADER}\n".encode()
    res = admin.post(URL, {}, format="multipart")
    assert res.status_code == 400 and {e["message"].split(":")[0] for e in res.json()["errors"]} == {"file", "as"}
    assert _post(admin, content, **{"as": "reads"}).json()["code"] == "invalid_label_import"
    assert _post(admin, content, **{"as": "gold", "zero_means": "absent"}).status_code == 400
    res = _post(admin, content, **{"as": "predictions", "labeler": "x", "replace": "true"})
    assert res.status_code == 400 and "gold only" in res.json()["detail"]
    res = _post(admin, b"\x89PNG", "scan.png", "image/png", **{"as": "gold"})
    assert res.status_code == 400 and "unsupported file type" in res.json()["errors"][0]["message"]


def test_only_admins(client_for):  # type: ignore[no-untyped-def]
    for who, code in (("reader1", 403), ("adjudicator", 403), (None, 401)):
        assert _post(client_for(who), b"id\n", **{"as": "gold"}).status_code == code
        assert client_for(who).get(URL).status_code == code


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, getattr(response, "content", b"")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_api_takes_an_uncertainty_policy(client_for):  # type: ignore[no-untyped-def]
    report = ReportFactory(external_id="U1")
    GoldLabelFactory(report=report, labels=labels(edema="uncertain", atelectasis="uncertain"))
    RulePredictionFactory(report=report, source="external", source_version="vendor", labels=labels(edema="uncertain"))
    admin = client_for("admin")
    rows = _rows(admin.get("/api/gold/export/?uncertain=Edema%3Dpositive,Atelectasis%3Dnegative"))
    assert (rows[1][rows[0].index("Edema")], rows[1][rows[0].index("Atelectasis")]) == ("1.0", "0.0")
    rows = _rows(admin.get("/api/gold/export/?uncertain=hedged-absent"))
    assert rows[1][rows[0].index("Edema")] == ""
    bad = admin.get("/api/gold/export/?uncertain=Edema%3Dyes")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_uncertainty_policy"
    rows = _rows(admin.get("/api/predictions/export/?source=external&version=vendor&uncertain=negative"))
    assert rows[1][rows[0].index("Edema")] == "0.0"
    assert admin.get("/api/predictions/export/?source=external").status_code == 400
    assert admin.get("/api/predictions/export/?source=rules&version=x&uncertain=bad").status_code == 400
