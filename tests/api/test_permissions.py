"""Each role against each endpoint: anonymous -> 401, wrong role -> 403,
another reader's annotation -> 404. Plus the blinding rules."""

from __future__ import annotations

import pytest

from labeling.models import GoldSetVersion, ModelVersion
from ml_worker.models import TrainingRun
from tests.api.conftest import NORMAL, read_and_submit
from tests.factories import ReportFactory, labels

ROLES = ["anonymous", "reader", "adjudicator", "admin"]

# (method, url, roles allowed past the role check)
ENDPOINTS = [
    ("get", "/api/imports/", {"admin"}),
    ("post", "/api/imports/", {"admin"}),
    ("get", "/api/imports/1/", {"admin"}),
    ("get", "/api/reports/", {"reader", "adjudicator", "admin"}),
    ("get", "/api/reports/1/", {"reader", "adjudicator", "admin"}),
    ("post", "/api/reports/next/", {"reader"}),
    ("post", "/api/rereads/1/submit/", {"reader"}),
    ("get", "/api/annotations/", {"reader"}),
    ("post", "/api/annotations/", {"reader"}),
    ("get", "/api/annotations/1/", {"reader"}),
    ("patch", "/api/annotations/1/", {"reader"}),
    ("post", "/api/annotations/1/submit/", {"reader"}),
    ("post", "/api/annotations/1/reopen/", {"reader"}),
    ("get", "/api/progress/", {"reader"}),
    ("get", "/api/adjudication/", {"adjudicator"}),
    ("get", "/api/adjudication/1/", {"adjudicator"}),
    ("post", "/api/adjudication/1/", {"adjudicator"}),
    ("get", "/api/gold/export/", {"admin"}),
    ("get", "/api/gold/versions/", {"admin"}),
    ("post", "/api/gold/versions/", {"admin"}),
    ("get", "/api/gold/versions/compare/?a=x&b=y", {"admin"}),
    ("get", "/api/training-runs/", {"admin"}),
    ("post", "/api/training-runs/", {"admin"}),
    ("get", "/api/training-runs/1/", {"admin"}),
    ("post", "/api/training-runs/1/cancel/", {"admin"}),
    ("get", "/api/model-versions/", {"admin"}),
    ("post", "/api/model-versions/1/promote/", {"admin"}),
    ("post", "/api/model-versions/rollback/", {"admin"}),
    ("get", "/api/predictions/export/", {"admin"}),
    ("get", "/api/labels/imports/", {"admin"}),
    ("post", "/api/labels/imports/", {"admin"}),
    ("get", "/api/tasks/import-1/", {"admin"}),
    ("get", "/api/users/", {"admin"}),
    ("post", "/api/users/", {"admin"}),
    ("post", "/api/users/1/roles/", {"admin"}),
    ("post", "/api/users/1/deactivate/", {"admin"}),
    ("post", "/api/users/1/password/", {"admin"}),
    ("get", "/api/statistics/", {"reader", "adjudicator", "admin"}),
    ("get", "/api/audit/", {"admin"}),
    ("get", "/api/audit/export/", {"admin"}),
    ("get", "/api/calibration/", {"admin"}),
    ("patch", "/api/calibration/", {"admin"}),
    ("get", "/api/calibration/reports/", {"admin"}),
    ("post", "/api/calibration/reports/", {"admin"}),
    ("delete", "/api/calibration/reports/1/", {"admin"}),
    ("get", "/api/calibration/periods/", {"admin"}),
    ("post", "/api/calibration/periods/", {"admin"}),
    ("post", "/api/calibration/periods/end/", {"admin"}),
    ("get", "/api/calibration/accuracy/", {"admin"}),
]
ROLE_USER = {"anonymous": None, "reader": "reader1", "adjudicator": "adjudicator", "admin": "admin"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "url", "allowed"), ENDPOINTS, ids=[f"{m} {u}" for m, u, _ in ENDPOINTS])
def test_role_matrix(client_for, role, method, url, allowed):  # type: ignore[no-untyped-def]
    response = getattr(client_for(ROLE_USER[role]), method)(url, {}, format="json") if method != "get" else client_for(ROLE_USER[role]).get(url)
    if role == "anonymous":
        assert response.status_code == 401
    elif role not in allowed:
        assert response.status_code == 403, (role, url, response.status_code)
    else:
        assert response.status_code not in (401, 403), (role, url, response.status_code, getattr(response, "content", b"")[:300])
        assert response.status_code < 500


def test_reader_never_sees_another_readers_annotation(client_for, make_reports, settings):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    r1, r2 = client_for("reader1"), client_for("reader2")
    r1.post("/api/reports/next/")
    mine = r1.post("/api/annotations/", {"report": report.id, "labels": {"Edema": "positive"}}, format="json").json()
    # reader2 gets 404 (not 403) for reader1's annotation, before ...
    assert r2.get(f"/api/annotations/{mine['id']}/").status_code == 404
    assert r2.patch(f"/api/annotations/{mine['id']}/", {"labels": NORMAL, "version": 1}, format="json").status_code == 404
    assert r2.post(f"/api/annotations/{mine['id']}/submit/", {"labels": NORMAL, "version": 1}, format="json").status_code == 404
    assert r2.get("/api/annotations/").json()["results"] == []
    # ... and after adjudication
    r1.post(f"/api/annotations/{mine['id']}/submit/", {"labels": labels(edema="positive"), "version": 1, "override_warnings": True}, format="json")
    read_and_submit(r2, labels(pleural_effusion="positive"))
    adj = client_for("adjudicator")
    got = adj.get(f"/api/adjudication/{report.id}/")
    assert got.status_code == 200 and len(got.json()["reads"]) == 2
    assert adj.post(f"/api/adjudication/{report.id}/", {"labels": NORMAL, "rationale": "normal", "version": 0}, format="json").status_code == 200
    assert r2.get(f"/api/annotations/{mine['id']}/").status_code == 404
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # feedback due at once (access.gold_feedback_due)
    detail = r2.get(f"/api/reports/{report.id}/").json()
    assert detail["gold"]["labels"] == NORMAL  # gold of a report they read: visible
    assert detail["my_annotation"]["labels"]["Pleural Effusion"] == "positive"
    assert "reads" not in detail and "annotations" not in detail


def test_reader_sees_only_reports_assigned_or_read(client_for, make_reports):  # type: ignore[no-untyped-def]
    a, b = make_reports(2)
    r1 = client_for("reader1")
    assert r1.get("/api/reports/").json()["count"] == 0
    assert r1.get(f"/api/reports/{a.id}/").status_code == 404
    r1.post("/api/reports/next/")
    listed = r1.get("/api/reports/").json()
    assert [r["id"] for r in listed["results"]] == [a.id]
    assert r1.get(f"/api/reports/{a.id}/").status_code == 200
    assert r1.get(f"/api/reports/{b.id}/").status_code == 404
    assert client_for("admin").get("/api/reports/").json()["count"] == 2


def test_adjudicator_cannot_adjudicate_a_report_they_read(users, client_for, make_reports, make_user):  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    both = make_user("both", "reader", "adjudicator")
    from rest_framework.test import APIClient

    c = APIClient()
    c.force_authenticate(both)
    read_and_submit(c, labels(edema="positive"))
    read_and_submit(client_for("reader1"), labels(pleural_effusion="positive"))
    assert c.get("/api/adjudication/").json()["results"] == []
    assert c.get(f"/api/adjudication/{report.id}/").status_code == 404
    assert c.post(f"/api/adjudication/{report.id}/", {"labels": NORMAL, "version": 0}, format="json").status_code == 404
    assert client_for("adjudicator").get("/api/adjudication/").json()["count"] == 1


def test_admin_actions_happen(client_for, make_reports):  # type: ignore[no-untyped-def]
    admin = client_for("admin")
    res = admin.post("/api/gold/versions/", {"name": "g1"}, format="json")
    assert res.status_code == 201 and GoldSetVersion.objects.filter(name="g1").exists()
    v1 = ModelVersion.objects.create(name="v1", checkpoint_path="/x")
    v2 = ModelVersion.objects.create(name="v2", checkpoint_path="/y")
    assert admin.post(f"/api/model-versions/{v1.id}/promote/").json()["is_active"] is True
    assert admin.post(f"/api/model-versions/{v2.id}/promote/").json()["is_active"] is True
    back = admin.post("/api/model-versions/rollback/")
    assert back.status_code == 200 and back.json()["name"] == "v1"
    run = admin.post("/api/training-runs/", {"stage": "silver"}, format="json")
    assert run.status_code == 201
    assert admin.post("/api/training-runs/", {"stage": "silver"}, format="json").status_code == 409
    cancelled = admin.post(f"/api/training-runs/{run.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert TrainingRun.objects.get().status == "cancelled"
    status = admin.get(f"/api/tasks/training-{run.json()['id']}/").json()
    assert status["state"] == "cancelled" and status["done"] is True


def test_flagged_reports_leave_a_readers_list(client_for, make_reports, users):  # type: ignore[no-untyped-def]
    from annotator.services import report_flag

    (report,) = make_reports(1)
    r1 = client_for("reader1")
    r1.post("/api/reports/next/")
    report_flag(report=report, user=users["reader1"], reason="truncated")
    assert r1.get("/api/reports/").json()["count"] == 0
    assert client_for("admin").get("/api/reports/?status=flagged").json()["count"] == 1


def test_report_filters(client_for, make_reports):  # type: ignore[no-untyped-def]
    from tests.factories import RulePredictionFactory

    a, b = make_reports(2)
    c = ReportFactory()
    RulePredictionFactory(report=c, labels=labels(edema="positive"))
    admin = client_for("admin")
    got = admin.get("/api/reports/?observation=edema&value=positive").json()
    assert [r["id"] for r in got["results"]] == [c.id]
    assert admin.get("/api/reports/?status=unread").json()["count"] == 3
    assert admin.get("/api/reports/?status=nonsense").status_code == 400
    assert admin.get("/api/reports/?observation=spleen&value=positive").status_code == 400
