"""One request per read (#19): `reports/next/?include=report` answers with the
report body of GET reports/<id>/, and `POST annotations/` with `"submit": true`
creates and submits a read in one call, with the same checks and the same
gold-by-agreement as the three-request flow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Annotation, GoldLabel
from labeling.selectors import runtime_settings_get
from privacy.models import ReportAccess
from tests.api.conftest import NORMAL
from tests.factories import labels

pytestmark = pytest.mark.both_backends


def _next_with_report(client):  # type: ignore[no-untyped-def]
    res = client.post("/api/reports/next/?include=report")
    assert res.status_code == 200, res.content
    return res.json()


def test_next_include_report_is_the_report_body(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    body = _next_with_report(c)
    assert body["id"] == report.id and body["reread"] is False and body["annotation"] is None
    assert body["report"] == c.get(f"/api/reports/{report.id}/").json()
    assert body["report"]["machine_labels"]["prefill"]  # the pre-fill and evidence come along
    # resuming the same report with a draft: the draft is in both places
    c.post("/api/annotations/", {"report": report.id, "labels": {"Edema": "positive"}}, format="json")
    again = _next_with_report(c)
    assert again["annotation"]["labels"] == {"Edema": "positive"} == again["report"]["my_annotation"]["labels"]


def test_next_include_report_keeps_the_first_read_blind(client_for, make_reports):  # type: ignore[no-untyped-def]
    make_reports(1)
    row = runtime_settings_get()
    row.prefill = "none"
    row.save()
    body = _next_with_report(client_for("reader1"))
    assert body["report"]["machine_labels"] is None


def test_next_include_report_records_one_access(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    before = ReportAccess.objects.filter(report_id=report.id).count()
    _next_with_report(client_for("reader1"))
    assert ReportAccess.objects.filter(report_id=report.id).count() == before + 1


def test_next_include_unknown_is_refused(client_for, make_reports):  # type: ignore[no-untyped-def]
    make_reports(1)
    c = client_for("reader1")
    assert c.post("/api/reports/next/?include=everything").status_code == 400
    assert not Annotation.objects.exists()


def test_next_without_include_is_unchanged(client_for, make_reports):  # type: ignore[no-untyped-def]
    make_reports(1)
    body = client_for("reader1").post("/api/reports/next/").json()
    assert "report" not in body and set(body) == {"id", "external_id", "text", "url", "reread", "annotation"}


def test_create_and_submit_in_one_call_makes_gold_by_agreement(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    answers = []
    for who in ("reader1", "reader2"):
        c = client_for(who)
        rid = _next_with_report(c)["id"]
        res = c.post("/api/annotations/", {"report": rid, "labels": NORMAL, "submit": True, "time_spent_seconds": 12},
                     format="json")
        assert res.status_code == 201, res.content
        answers.append(res)
    for res in answers:
        body = res.json()
        assert body["status"] == "submitted" and body["labels"] == NORMAL and body["time_spent_seconds"] == 12
        assert res["ETag"] and "gold" not in body  # nothing about gold (the first reader's agreement stays hidden)
    assert GoldLabel.objects.get(report=report, is_current=True).labels == NORMAL
    reads = Annotation.objects.filter(report=report)
    assert reads.count() == 2 and all(a.status == "submitted" and a.prefill for a in reads)
    assert all(a.prefill_outcome for a in reads)  # provenance as in the three-request flow
    # the reservations ended as on a normal submit
    assert not report.reservations.exists()


def test_create_and_submit_disagreeing_reads_are_not_gold(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    for who, values in (("reader1", NORMAL), ("reader2", labels(edema="positive"))):
        c = client_for(who)
        c.post("/api/reports/next/")
        res = c.post("/api/annotations/", {"report": report.id, "labels": values, "submit": True, "override_warnings": True},
                     format="json")
        assert res.status_code == 201, res.content
    assert not GoldLabel.objects.filter(report=report).exists()


def test_create_and_submit_checks_like_submit(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    odd = labels(no_finding="positive", edema="positive")
    warned = c.post("/api/annotations/", {"report": report.id, "labels": odd, "submit": True}, format="json")
    assert warned.status_code == 400 and warned.json()["code"] == "consistency_warnings" and warned.json()["warnings"]
    partial = c.post("/api/annotations/", {"report": report.id, "labels": {"Edema": "positive"}, "submit": True}, format="json")
    assert partial.status_code == 400
    assert not Annotation.objects.exists()  # nothing saved by either
    # not handed to this reader: 404, as for a draft
    other = make_reports(1)[0]
    assert c.post("/api/annotations/", {"report": other.id, "labels": NORMAL, "submit": True}, format="json").status_code == 404


def test_create_and_submit_over_a_draft_is_a_conflict(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    c.post("/api/annotations/", {"report": report.id, "labels": {"Edema": "positive"}}, format="json")
    res = c.post("/api/annotations/", {"report": report.id, "labels": NORMAL, "submit": True}, format="json")
    assert res.status_code == 409
    assert Annotation.objects.get(report=report).status == "draft"


def test_create_and_submit_needs_the_first_read_when_it_is_on(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    row = runtime_settings_get()
    row.prefill = "none"
    row.save()
    c = client_for("reader1")
    c.post("/api/reports/next/")
    res = c.post("/api/annotations/", {"report": report.id, "labels": NORMAL, "submit": True}, format="json")
    assert res.status_code == 400
    assert not Annotation.objects.exists()


def test_gold_feedback_after_one_call_reads_is_batched(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    clients = [client_for("reader1"), client_for("reader2")]
    for c in clients:
        c.post("/api/reports/next/")
        c.post("/api/annotations/", {"report": report.id, "labels": NORMAL, "submit": True}, format="json")
    assert clients[1].get(f"/api/reports/{report.id}/").json()["gold"] is None  # not right after the submit
    Annotation.objects.filter(report=report).update(submitted_at=timezone.now() - timedelta(days=2))
    assert clients[1].get(f"/api/reports/{report.id}/").json()["gold"]["labels"] == NORMAL


def test_schema_documents_the_one_request_forms(client_for, make_reports) -> None:  # type: ignore[no-untyped-def]
    schema = client_for("admin").get("/api/schema/?format=json").json()
    next_params = {p["name"]: p for p in schema["paths"]["/api/reports/next/"]["post"]["parameters"]}
    assert next_params["include"]["schema"]["enum"] == ["report"]
    body = schema["paths"]["/api/annotations/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert {"submit", "override_warnings"} <= set(fields)
