"""Label Studio interop (`labeling.label_studio`, `import_labels --format label-studio`,
`export_label_studio`, /api/label-studio/): its JSON export read as gold, as one
annotator's reads or as predictions, with errors by task index and nothing
written when a task is bad; our reports and machine labels written as tasks
with predictions and a labeling config; a round trip LS -> chexgold -> LS."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.services import label_file_import, label_upload_import
from labeling.label_studio import control_name, label_studio_config, label_studio_file_read
from labeling.models import Annotation, GoldLabel, LabelImport, MachinePrediction, Report
from labeling.observations import OBSERVATION_NAMES
from labeling.services.exports import label_studio_export_open
from tests.factories import ReportFactory, RulePredictionFactory, labels

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPORT = FIXTURES / "label_studio_export.json"
BAD = FIXTURES / "label_studio_bad.json"
LS1 = labels(pleural_effusion="positive", edema="uncertain", pneumothorax="negative")
LS2 = labels(no_finding="positive")
LS3 = labels(lung_opacity="positive", pneumonia="positive")


@pytest.fixture
def reports(db) -> list[Report]:  # type: ignore[no-untyped-def]
    texts = {"LS1": "FINDINGS: Small left pleural effusion.\nIMPRESSION: Effusion, possible edema.",
             "LS2": "FINDINGS: Heart and lungs normal.\nIMPRESSION: No acute disease.",
             "LS3": "FINDINGS: Right lower lobe opacity.\nIMPRESSION: Pneumonia."}
    return [ReportFactory(external_id=key, text=text) for key, text in texts.items()]


# --- the Django-free format ------------------------------------------------------------------
def test_gold_reads_and_predictions_are_read_from_the_documented_format() -> None:
    gold = label_studio_file_read(EXPORT, kind="gold")
    assert not gold.errors
    assert [(r.line, r.key_kind, r.key) for r in gold.rows] == [(1, "id", "LS1"), (2, "id", "LS2"), (3, "text", gold.rows[2].key)]
    assert [r.labels for r in gold.rows] == [LS1, LS2, LS3]  # the cancelled annotation of task 3 is ignored

    alice = label_studio_file_read(EXPORT, kind="reads", reader="alice@example.org")
    assert [(r.key, r.labels) for r in alice.rows] == [("LS1", LS1), ("LS2", LS2)]
    bob = label_studio_file_read(EXPORT, kind="reads", reader="9")
    assert [r.labels for r in bob.rows] == [LS1, LS3]

    predictions = label_studio_file_read(EXPORT, kind="predictions")
    assert [(r.key, r.labels) for r in predictions.rows] == [
        ("LS1", labels(pleural_effusion="positive")), ("LS2", labels(no_finding="positive", cardiomegaly="negative"))]


def test_every_bad_task_is_reported_by_its_index() -> None:
    parsed = label_studio_file_read(BAD, kind="gold")
    assert [(e.line, e.message) for e in parsed.errors] == [
        (2, "annotations[1]: unknown observation 'Heart_Size'"),
        (3, "a task needs a data object"),
        (4, "annotations[2]: Edema: not a label: 'Maybe' (Positive, Negative or Uncertain)"),
        (5, "the task's 2 annotations disagree: import them as reads of each annotator"),
    ]
    assert [r.key for r in parsed.rows] == ["LS1"]
    assert label_studio_file_read(BAD, kind="reads", reader="nobody").errors[-1].message.startswith("a task needs")


def test_labeling_config_has_one_single_choice_control_per_observation() -> None:
    root = ET.fromstring(label_studio_config())
    controls = root.findall("Choices")
    assert [c.get("name") for c in controls] == [control_name(n) for n in OBSERVATION_NAMES]
    assert all(c.get("toName") == "text" and c.get("choice") == "single" for c in controls)
    assert [c.get("value") for c in controls[0].findall("Choice")] == ["Positive", "Negative", "Uncertain"]


# --- import through the label-import service -------------------------------------------------
def test_gold_import_then_reimport_is_unchanged(reports, settings_row) -> None:  # type: ignore[no-untyped-def]
    result = label_file_import(path=str(EXPORT), kind="gold", user=None, file_format="label-studio")
    assert result.ok and result.created == 3 and result.gold_version
    gold = {g.report.external_id: g.labels for g in GoldLabel.objects.filter(is_current=True).select_related("report")}
    assert gold == {"LS1": LS1, "LS2": LS2, "LS3": LS3}
    again = label_file_import(path=str(EXPORT), kind="gold", user=None, file_format="label-studio")
    assert again.ok and not again.changed and again.unchanged == 3
    assert LabelImport.objects.count() == 1


def test_reads_of_the_named_annotator(reports, settings_row) -> None:  # type: ignore[no-untyped-def]
    result = label_file_import(path=str(EXPORT), kind="reads", reader="alice@example.org", user=None, file_format="label-studio")
    assert result.ok and result.created == 2
    reads = Annotation.objects.filter(reader__username="alice@example.org", status=Annotation.Status.SUBMITTED)
    assert {a.report.external_id: a.labels for a in reads} == {"LS1": LS1, "LS2": LS2}


def test_a_bad_task_writes_nothing(reports, tmp_path, settings_row) -> None:  # type: ignore[no-untyped-def]
    result = label_file_import(path=str(BAD), kind="gold", user=None, file_format="label-studio")
    assert not result.ok and [e.line for e in result.errors] == [2, 3, 4, 5]
    assert not GoldLabel.objects.exists() and not LabelImport.objects.exists()
    with pytest.raises(CommandError, match="task|line 2"):
        call_command("import_labels", str(BAD), "--as", "gold", "--format", "label-studio")


def test_command_imports_predictions_and_upload_accepts_json(reports, tmp_path, settings_row, make_user) -> None:  # type: ignore[no-untyped-def]
    call_command("import_labels", str(EXPORT), "--as", "predictions", "--labeler", "ls-model", "--format", "label-studio")
    assert MachinePrediction.objects.filter(source="external", source_version="ls-model").count() == 2
    upload = SimpleUploadedFile("project-1.json", EXPORT.read_bytes(), content_type="application/json")
    result = label_upload_import(upload=upload, kind="gold", user=make_user("boss", "admin"), file_format="label-studio")
    assert result.ok and result.created == 3


# --- export and the round trip ----------------------------------------------------------------
def test_round_trip_label_studio_to_chexgold_to_label_studio(reports, tmp_path, settings_row) -> None:  # type: ignore[no-untyped-def]
    label_file_import(path=str(EXPORT), kind="predictions", labeler="ls-gold", user=None, file_format="label-studio")
    shutil.copy(EXPORT, tmp_path / "in.json")
    label_file_import(path=str(tmp_path / "in.json"), kind="gold", user=None, file_format="label-studio")
    RulePredictionFactory(report=reports[0], source_version="rules-9", labels=labels(edema="positive"))
    out, config = tmp_path / "tasks.json", tmp_path / "config.xml"
    call_command("export_label_studio", "--output", str(out), "--source", "rules", "--source", "external:ls-gold", "--config", str(config))
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["id"] for t in tasks] == ["LS1", "LS2", "LS3"]
    assert [p["model_version"] for p in tasks[0]["predictions"]] == ["rules:rules-9", "external:ls-gold"]
    assert ET.fromstring(config.read_text(encoding="utf-8")).tag == "View"
    # Read back: two predictions per task, which differ on task 1.
    back = label_studio_file_read(out, kind="predictions")
    assert any("disagree" in e.message for e in back.errors)  # task 1: rules and ls-gold differ
    # Only the labeler imported from Label Studio: what comes back is what went in.
    only_ls = tmp_path / "ls-only.json"
    call_command("export_label_studio", "--output", str(only_ls), "--source", "external:ls-gold")
    back = label_studio_file_read(only_ls, kind="predictions")
    assert not back.errors  # LS3 had no prediction: its task has none
    assert [(r.key, r.labels) for r in back.rows] == [(r.key, r.labels) for r in label_studio_file_read(EXPORT, kind="predictions").rows]
    with pytest.raises(CommandError, match="no-such"):
        call_command("export_label_studio", "--output", str(tmp_path / "x.json"), "--source", "external:no-such")


def test_export_api_and_config_are_admin_only(reports, make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    RulePredictionFactory(report=reports[1], source_version="rules-9", labels=LS2)
    admin, reader = APIClient(), APIClient()
    admin.force_authenticate(make_user("boss", "admin"))
    reader.force_authenticate(make_user("r1", "reader"))
    res = admin.get("/api/label-studio/tasks/")
    assert res.status_code == 200
    tasks = json.loads(b"".join(res.streaming_content))  # type: ignore[attr-defined]
    assert tasks[1]["predictions"] == [{"model_version": "rules:rules-9", "result": [
        {"from_name": "No_Finding", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}]}]
    assert admin.get("/api/label-studio/config/").status_code == 200
    assert reader.get("/api/label-studio/tasks/").status_code == 403
    assert reader.get("/api/label-studio/config/").status_code == 403
    with open(EXPORT, "rb") as fh:
        res = admin.post("/api/labels/imports/", {"file": fh, "as": "gold", "format": "label-studio"}, format="multipart")
    assert res.status_code == 201, res.content


def test_export_leaves_out_withdrawn_and_flagged_reports(reports, settings_row) -> None:  # type: ignore[no-untyped-def]
    Report.objects.filter(id=reports[0].id).update(is_withdrawn=True)
    Report.objects.filter(id=reports[1].id).update(is_flagged=True)
    export = label_studio_export_open(user=None, sources=[])
    assert [t["data"]["id"] for t in json.loads("".join(export.chunks))] == ["LS3"]


def test_imports_page_imports_and_exports_label_studio(reports, client, make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("r1", "reader"))
    assert client.get(reverse("labeling:label_studio_export")).status_code in (302, 403)
    client.force_login(make_user("boss", "admin"))
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert "Label Studio JSON export" in page and reverse("labeling:label_studio_export") in page
    res = client.get(reverse("labeling:label_studio_export") + "?config=1")
    assert res.status_code == 200 and ET.fromstring(res.content).tag == "View"
    res = client.get(reverse("labeling:label_studio_export"))
    assert [t["data"]["id"] for t in json.loads(b"".join(res.streaming_content))] == ["LS1", "LS2", "LS3"]
    upload = SimpleUploadedFile("project-1.json", EXPORT.read_bytes(), content_type="application/json")
    res = client.post(reverse("annotator:label_import"), {"labels-file": upload, "labels-kind": "gold", "labels-zero_means": "negative",
                                                          "labels-file_format": "label-studio"}, follow=True)
    assert res.status_code == 200 and GoldLabel.objects.filter(is_current=True).count() == 3
