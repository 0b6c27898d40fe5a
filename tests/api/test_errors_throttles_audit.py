"""No stack trace reaches a user; login and token endpoints are throttled;
changes to annotations, gold, model promotion and roles are in the audit history."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import RoleChange
from labeling.models import ModelVersion
from tests.api.conftest import NORMAL, read_and_submit
from tests.factories import labels


@pytest.mark.urls("tests.api.boom_urls")
def test_api_error_is_json_without_trace(db) -> None:  # type: ignore[no-untyped-def]
    res = APIClient(raise_request_exception=False).get("/boom/api/")
    assert res.status_code == 500
    body = res.json()
    assert body["code"] == "server_error" and body["error_id"]
    assert "secret" not in res.content.decode() and "Traceback" not in res.content.decode()


@pytest.mark.urls("tests.api.boom_urls")
def test_page_error_uses_the_500_template(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    res = Client(raise_request_exception=False).get("/boom/page/")
    assert res.status_code == 500
    html = res.content.decode()
    assert "Something went wrong" in html and "secret" not in html and "Traceback" not in html


def test_404_page_template(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    res = Client().get("/no/such/page/")
    assert res.status_code == 404 and "Not found" in res.content.decode()


def test_api_unknown_object_is_json_404(client_for) -> None:  # type: ignore[no-untyped-def]
    res = client_for("admin").get("/api/imports/999999/")
    assert res.status_code == 404 and res.json()["detail"]


def test_token_endpoint_issues_tokens_and_is_throttled(users) -> None:  # type: ignore[no-untyped-def]
    c = APIClient()
    ok = c.post("/api/auth/token/", {"username": "reader1", "password": "correct-horse-42"}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]
    authed = APIClient(HTTP_AUTHORIZATION=f"Token {ok.json()['token']}")
    assert authed.get("/api/annotations/").status_code == 200
    codes = [c.post("/api/auth/token/", {"username": "reader1", "password": "wrong"}, format="json").status_code for _ in range(12)]
    assert codes[0] == 400 and codes[-1] == 429


def test_login_page_is_throttled(users) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    codes = [c.post("/accounts/login/", {"username": "reader1", "password": "wrong"}).status_code for _ in range(12)]
    assert codes[0] == 200 and codes[-1] == 429


def test_session_auth_enforces_csrf(users) -> None:  # type: ignore[no-untyped-def]
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(users["admin"])
    assert c.get("/api/users/").status_code == 200
    res = c.post("/api/gold/versions/", {"name": "g"}, format="json")
    assert res.status_code == 403 and "CSRF" in res.json()["detail"]


def test_audit_history_of_annotations_gold_models_and_roles(users, client_for, make_reports) -> None:  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    read_and_submit(client_for("reader1"), labels(edema="positive"))
    read_and_submit(client_for("reader2"), NORMAL)
    client_for("adjudicator").post(f"/api/adjudication/{report.id}/", {"labels": NORMAL, "rationale": "normal", "version": 0}, format="json")
    admin = client_for("admin")
    version = ModelVersion.objects.create(name="v1", checkpoint_path="/x")
    admin.post(f"/api/model-versions/{version.id}/promote/")
    admin.post(f"/api/users/{users['reader1'].pk}/roles/", {"role": "adjudicator", "action": "add"}, format="json")
    change = RoleChange.objects.filter(user=users["reader1"], role="adjudicator").get()
    assert change.changed_by == users["admin"] and change.roles_before == ["reader"] and change.roles_after == ["adjudicator", "reader"]

    entries = admin.get("/api/audit/?page_size=200").json()["results"]
    kinds = {e["kind"] for e in entries}
    assert {"annotation", "gold_label", "model_version", "role"} <= kinds
    submitted = [e for e in entries if e["kind"] == "annotation" and e["after"]["status"] == "submitted"]
    assert submitted and all(e["before"]["status"] == "draft" for e in submitted)
    promoted = [e for e in entries if e["kind"] == "model_version" and e["after"]["is_active"]]
    assert promoted and promoted[0]["by"] == "boss" and promoted[0]["before"]["is_active"] is False
    gold = [e for e in entries if e["kind"] == "gold_label" and e["action"] == "created"]
    assert gold and gold[0]["by"] == "adj"
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    only_roles = admin.get("/api/audit/?kind=role").json()
    assert {e["kind"] for e in only_roles["results"]} == {"role"}

    res = admin.get("/api/audit/export/")
    rows = list(csv.reader(io.StringIO(b"".join(res.streaming_content).decode())))
    assert rows[0] == ["at", "kind", "object_id", "action", "by", "before", "after"]
    assert len(rows) - 1 == admin.get("/api/audit/").json()["count"]
