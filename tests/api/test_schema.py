"""OpenAPI schema, docs pages, and schemathesis fuzzing of every operation as an
authenticated admin (bounded, deterministic): no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from chexgold.wsgi import application


def test_schema_generates_and_lists_the_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert res.status_code == 200
    schema = res.json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/imports/", "/api/reports/", "/api/annotations/{annotation_id}/", "/api/adjudication/",
                 "/api/gold/export/", "/api/training-runs/", "/api/model-versions/", "/api/tasks/{task_id}/", "/api/audit/"]:
        assert path in schema["paths"], path
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_docs_use_local_assets(client) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/docs/")
    assert res.status_code == 200
    html = res.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()
    assert client.get("/api/redoc/").status_code == 200


@pytest.fixture
def api_schema(db):  # type: ignore[no-untyped-def]
    # Called as a plain WSGI app, Django would close the test transaction's
    # connection after each request; Django's own test client avoids that the same way.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(make_user) -> str:  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=make_user("fuzz-admin", "admin")).key


def test_fuzz_no_server_errors(api_schema, admin_token) -> None:  # type: ignore[no-untyped-def]
    """Every operation, 5 generated cases each (fixed seed), as an admin: no 5xx."""
    from hypothesis import given

    headers = {"Authorization": f"Token {admin_token}"}
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=5, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

        run()
    assert operations >= 30
    assert not failures, "\n".join(failures[:20])
