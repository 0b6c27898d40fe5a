"""Reader flow and optimistic concurrency: 412 with If-Match, 409 with a body
version, 428 without either; nothing is lost."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from labeling.models import Annotation, GoldLabel
from tests.api.conftest import NORMAL, read_and_submit
from tests.factories import labels


def _draft(client, report_id):  # type: ignore[no-untyped-def]
    res = client.post("/api/annotations/", {"report": report_id, "labels": {"Edema": "positive"}}, format="json")
    assert res.status_code == 201, res.content
    return res


def test_reader_flow_next_draft_submit_then_gold(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    r1, r2 = client_for("reader1"), client_for("reader2")
    first = read_and_submit(r1)
    assert first["status"] == "submitted" and "became_gold" not in first
    second = read_and_submit(r2)
    # the submit answer says nothing about gold (a second reader would learn the first agreed)
    assert "became_gold" not in second and "gold" not in second
    assert GoldLabel.objects.get(report=report, is_current=True).labels == NORMAL
    # not right after the submit: feedback arrives in batches (access.gold_feedback_due)
    assert r2.get(f"/api/reports/{report.id}/").json()["gold"] is None
    # once due (here: a day later), the reader sees the gold labels of the report they read
    Annotation.objects.filter(report=report).update(submitted_at=timezone.now() - timedelta(days=2))
    detail = r1.get(f"/api/reports/{report.id}/").json()
    assert detail["gold"]["labels"] == NORMAL
    assert detail["my_annotation"]["status"] == "submitted"


def test_etag_and_if_match_update(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    created = _draft(c, report.id)
    ann_id = created.json()["id"]
    got = c.get(f"/api/annotations/{ann_id}/")
    assert got["ETag"] == '"1"'
    ok = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "negative"}}, format="json", HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200 and ok["ETag"] == '"2"'
    stale = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "uncertain"}}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    missing = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "uncertain"}}, format="json")
    assert missing.status_code == 428
    stale_body = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "uncertain"}, "version": 1}, format="json")
    assert stale_body.status_code == 409
    fresh_body = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "uncertain"}, "version": 2}, format="json")
    assert fresh_body.status_code == 200
    a = Annotation.objects.get(id=ann_id)
    assert a.version == 3 and a.labels["Edema"] == "uncertain"  # the accepted writes, none lost


def test_submit_needs_version_and_refuses_stale(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    ann_id = _draft(c, report.id).json()["id"]
    assert c.post(f"/api/annotations/{ann_id}/submit/", {"labels": NORMAL}, format="json").status_code == 428
    assert c.post(f"/api/annotations/{ann_id}/submit/", {"labels": NORMAL}, format="json", HTTP_IF_MATCH='"7"').status_code == 412
    assert c.post(f"/api/annotations/{ann_id}/submit/", {"labels": NORMAL, "version": 7}, format="json").status_code == 409
    assert Annotation.objects.get(id=ann_id).status == "draft"
    ok = c.post(f"/api/annotations/{ann_id}/submit/", {"labels": NORMAL, "version": 1}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "submitted"


def test_second_create_for_same_report_conflicts(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    _draft(c, report.id)
    again = c.post("/api/annotations/", {"report": report.id, "labels": NORMAL}, format="json")
    assert again.status_code == 409
    assert Annotation.objects.filter(report=report).count() == 1


def test_incomplete_submit_and_bad_labels_are_400(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    ann_id = _draft(c, report.id).json()["id"]
    res = c.post(f"/api/annotations/{ann_id}/submit/", {"labels": {"Edema": "positive"}, "version": 1}, format="json")
    assert res.status_code == 400 and "Choose a value" in res.json()["detail"]
    bad = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Edema": "maybe"}, "version": 1}, format="json")
    assert bad.status_code == 400
    unknown = c.patch(f"/api/annotations/{ann_id}/", {"labels": {"Spleen": "positive"}, "version": 1}, format="json")
    assert unknown.status_code == 400


def test_consistency_warnings_need_override(client_for, make_reports):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    c = client_for("reader1")
    c.post("/api/reports/next/")
    ann_id = _draft(c, report.id).json()["id"]
    odd = labels(no_finding="positive", edema="positive")
    res = c.post(f"/api/annotations/{ann_id}/submit/", {"labels": odd, "version": 1}, format="json")
    assert res.status_code == 400 and res.json()["code"] == "consistency_warnings" and res.json()["warnings"]
    assert Annotation.objects.get(id=ann_id).status == "draft"


def test_next_is_204_when_nothing_left(client_for, make_reports):  # type: ignore[no-untyped-def]
    assert client_for("reader1").post("/api/reports/next/").status_code == 204


def test_rereads_through_the_api(client_for, make_reports):  # type: ignore[no-untyped-def]
    """With re-reads on, next hands back one of the reader's own older reads, blind;
    the re-read is stored apart and the first read stays as it was."""
    import datetime as dt

    from django.utils import timezone

    from annotator import selectors as review_selectors
    from annotator.models import Reread

    (report,) = make_reports(1)
    reader = client_for("reader1")
    read_and_submit(reader)
    Annotation.objects.filter(report=report).update(submitted_at=timezone.now() - dt.timedelta(days=3))
    review = review_selectors.review_settings_get()
    review.allow_rereads, review.reread_percent = True, 100
    review.save()
    handed = reader.post("/api/reports/next/").json()
    assert handed["reread"] is True and handed["annotation"] is None and handed["id"] == report.id
    second = {**NORMAL, "No Finding": "blank", "Cardiomegaly": "positive"}
    response = reader.post(handed["submit_url"], {"labels": second}, format="json")
    assert response.status_code == 200, response.content
    assert Reread.objects.get().labels == second and Annotation.objects.get(report=report).labels == NORMAL
    assert reader.post(handed["submit_url"], {"labels": second}, format="json").status_code == 404
    assert client_for("reader2").post(handed["submit_url"], {"labels": second}, format="json").status_code == 404
