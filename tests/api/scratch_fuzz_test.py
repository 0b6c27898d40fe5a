"""OpenAPI schema, docs pages, and schemathesis fuzzing of every operation as an
authenticated admin (bounded, deterministic), on SQLite and on PostgreSQL: no
input may cause a 5xx, and every status code, content type and body the API
answers must be the ones the schema documents (errors: RFC 9457 problems)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    FailureGroup,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from chexgold.wsgi import application

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def signed_in(client, make_user):  # type: ignore[no-untyped-def]
    client.force_login(make_user("docs-reader", "reader"))
    return client


def test_schema_and_docs_only_for_signed_in_users(client, db) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        res = client.get(path)
        assert res.status_code == 401, path
        assert res["Content-Type"].startswith("application/problem+json")


def test_schema_generates_and_lists_the_endpoints(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in
    res = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert res.status_code == 200
    schema = res.json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/imports/", "/api/reports/", "/api/annotations/{annotation_id}/", "/api/adjudication/",
                 "/api/gold/export/", "/api/training-runs/", "/api/model-versions/", "/api/tasks/{task_id}/", "/api/audit/"]:
        assert path in schema["paths"], path
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    # Every operation documents the shared problem answers (api.schema).
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "405", "406", "413", "415", "429", "500"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "code"]


def test_docs_use_local_assets(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in
    res = client.get("/api/docs/")
    assert res.status_code == 200
    html = res.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()
    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200
    assert "fonts.googleapis.com" not in redoc.content.decode()  # nothing from another site
    # The docs pages' own, looser policy; the rest keep the strict one.
    assert "'unsafe-inline'" in res["Content-Security-Policy"] and "'unsafe-inline'" in redoc["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/queue/")["Content-Security-Policy"]


@pytest.fixture
def admin_token(make_user) -> str:  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=make_user("fuzz-admin", "admin")).key


@pytest.fixture
def api_schema(db, admin_token):  # type: ignore[no-untyped-def]
    # Called as a plain WSGI app, Django would close the test transaction's
    # connection after each request; Django's own test client avoids that the same way.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application, headers={"Authorization": f"Token {admin_token}"})
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.both_backends
def test_fuzz_no_server_errors_and_every_answer_documented(api_schema, admin_token) -> None:  # type: ignore[no-untyped-def]
    """Every operation, 5 generated cases each (fixed seed), as an admin: no 5xx, and
    every status code, content type and body is one the schema documents."""
    from hypothesis import given

    headers = {"Authorization": f"Token {admin_token}"}
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if "auth/token" in operation.path or (operation.path == "/api/users/" and operation.method.lower() == "post"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=40, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as exc:  # one group of every failed check
                failures.append(f"{case.method} {case.formatted_path}: {exc}")

        run()
    assert operations >= 30
    assert not failures, "\n".join(failures[:80])
