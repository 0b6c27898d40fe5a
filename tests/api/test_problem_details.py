"""One JSON error format for every API error: RFC 9457 problem details
(`application/problem+json` with type, title, status, detail, and the earlier
`detail` and `code`), also for unmatched /api/ paths, 405, 406 and 415, and
whatever the Accept header asked for. The order of checks: a signed-in user
without the role gets 403 before anything about the body (415, 400)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from django.middleware.csrf import _get_new_csrf_string
from rest_framework.test import APIClient


def problem(res, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert res.status_code == status, res.content[:500]
    assert res["Content-Type"].startswith("application/problem+json"), res["Content-Type"]
    body = json.loads(res.content)
    assert body["type"] == "about:blank" and body["status"] == status and body["title"] and isinstance(body["detail"], str)
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize("path", ["/api/no-such-thing/", "/api/reports/1/nope/", "/api/", "/api/v2/reports/"])
def test_unmatched_api_paths_are_a_404_problem(client_for, path) -> None:  # type: ignore[no-untyped-def]
    problem(client_for("admin").get(path), 404, "not_found")
    problem(APIClient().post(path, {}, format="json"), 404, "not_found")


def test_pages_keep_the_html_404(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    res = APIClient().get("/no/such/page/")
    assert res.status_code == 404 and res["Content-Type"].startswith("text/html")


def test_401_403_404_are_problems(client_for) -> None:  # type: ignore[no-untyped-def]
    unauth = APIClient().get("/api/reports/")
    problem(unauth, 401, "not_authenticated")
    assert unauth["WWW-Authenticate"].startswith("Token")
    problem(client_for("reader1").get("/api/users/"), 403, "permission_denied")
    problem(client_for("admin").get("/api/imports/999999/"), 404, "not_found")
    problem(client_for("admin").get("/api/reports/999999/"), 404, "not_found")


def test_405_406_415_are_problems(client_for) -> None:  # type: ignore[no-untyped-def]
    admin = client_for("admin")
    not_allowed = admin.delete("/api/reports/")
    problem(not_allowed, 405, "method_not_allowed")
    assert "GET" in not_allowed["Allow"]
    problem(admin.get("/api/reports/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
    problem(admin.post("/api/gold/versions/", "name=v1", content_type="text/plain"), 415, "unsupported_media_type")
    problem(admin.post("/api/gold/versions/", "{not json", content_type="application/json"), 400, "parse_error")


def test_errors_are_json_even_when_html_was_asked_for(client_for) -> None:  # type: ignore[no-untyped-def]
    res = client_for("admin").get("/api/reports/999999/", HTTP_ACCEPT="text/html")
    problem(res, 404, "not_found")


def test_validation_errors_keep_their_fields(client_for) -> None:  # type: ignore[no-untyped-def]
    body = problem(client_for("admin").post("/api/gold/versions/", {"note": "n"}, format="json"), 400, "invalid")
    assert "name" in body["errors"] and body["name"] == body["errors"]["name"]  # as before, and under `errors`
    assert "name" in body["detail"]
    bad_query = problem(client_for("admin").get("/api/reports/?status=nope"), 400, "invalid")
    assert "status must be one of" in bad_query["detail"]


def test_domain_errors_and_warnings_are_problems(client_for) -> None:  # type: ignore[no-untyped-def]
    problem(client_for("admin").post("/api/model-versions/rollback/"), 409)
    stale = client_for("admin").post("/api/training-runs/", {"stage": "gold", "overrides": {"epochs": "x"}}, format="json")
    problem(stale, 400, "invalid_training_option")


@pytest.mark.urls("tests.api.boom_urls")
def test_a_500_is_a_problem_with_an_error_id(db) -> None:  # type: ignore[no-untyped-def]
    body = problem(APIClient(raise_request_exception=False).get("/boom/api/"), 500, "server_error")
    assert body["error_id"] and "secret" not in json.dumps(body)


def _browser_session(user) -> APIClient:  # type: ignore[no-untyped-def]
    """A signed-in browser: session cookie, CSRF cookie and the matching X-CSRFToken header."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    token = _get_new_csrf_string()
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    client.credentials(HTTP_X_CSRFTOKEN=token)
    return client


@pytest.mark.parametrize("content_type, body", [("text/plain", "name=v1"), ("application/xml", "<a/>"),
                                                ("application/json", "{not json")])
def test_a_user_without_the_role_gets_403_before_anything_about_the_body(users, content_type, body) -> None:  # type: ignore[no-untyped-def]
    reader = _browser_session(users["reader1"])
    res = reader.post("/api/gold/versions/", body, content_type=content_type)
    detail = problem(res, 403, "permission_denied")["detail"]
    assert "CSRF" not in detail  # refused for the role, not for the token
    # The admin with the same session set-up gets the body's own errors.
    admin = _browser_session(users["admin"])
    expected = 400 if content_type == "application/json" else 415
    problem(admin.post("/api/gold/versions/", body, content_type=content_type), expected)


def test_csrf_is_still_enforced_for_sessions(users) -> None:  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    res = client.post("/api/gold/versions/", {"name": "g"}, format="json")
    assert "CSRF" in problem(res, 403, "permission_denied")["detail"]
    form = _browser_session(users["admin"])
    form.credentials()  # no header: the token must come from the form field
    token = form.cookies[django_settings.CSRF_COOKIE_NAME].value
    created = form.post("/api/gold/versions/", {"name": "g1", "csrfmiddlewaretoken": token}, format="multipart")
    assert created.status_code == 201, created.content
