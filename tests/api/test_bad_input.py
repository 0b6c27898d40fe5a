"""Bad input never gives a 500: NUL bytes and invalid UTF-8 in query strings and
form bodies, deeply nested or NUL-bearing JSON, oversized bodies, concurrent
identical creates, and training options of the wrong type. Each answer is a
4xx, a problem (RFC 9457) under /api/ and plain text on pages. Marked
both_backends: PostgreSQL is where NUL used to reach a query and fail."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.api.conftest import NORMAL

pytestmark = pytest.mark.both_backends

API_QUERIES = [
    "/api/gold/versions/compare/?a=%00&b=x",
    "/api/statistics/?gold=%00",
    "/api/statistics/?mapping=%00",
    "/api/gold/export/?version=%00",
    "/api/predictions/export/?source=model&version=%00",
    "/api/reports/?status=%00",
    "/api/reports/?observation=%00&value=positive",
    "/api/audit/?kind=%00",
    "/api/users/?page=%00",
]
PAGE_QUERIES = [
    "/statistics/?gold=%00",
    "/statistics/?mapping=x%00",
    "/manage/gold-versions/compare?a=%00&b=%00",
    "/manage/exports/gold?version=%00",
    "/privacy/access-log/?user=%00",
    "/queue/?x=%00",
]


def _assert_problem(res, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert res.status_code == status, res.content[:500]
    assert res["Content-Type"].startswith("application/problem+json"), res["Content-Type"]
    body = json.loads(res.content)
    assert {"type", "title", "status", "detail", "code"} <= set(body) and body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize("url", API_QUERIES)
def test_nul_in_an_api_query_parameter_is_a_400_problem(client_for, url) -> None:  # type: ignore[no-untyped-def]
    res = client_for("admin").get(url)
    body = _assert_problem(res, 400, "invalid_input")
    assert "NUL" in body["detail"]


@pytest.mark.parametrize("url", PAGE_QUERIES)
def test_nul_in_a_page_query_parameter_is_a_plain_400(users, url) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(users["admin"])
    res = client.get(url)
    assert res.status_code == 400
    assert res["Content-Type"].startswith("text/plain") and b"NUL" in res.content


def test_invalid_utf8_in_a_query_string_is_a_400(client_for, users) -> None:  # type: ignore[no-untyped-def]
    _assert_problem(client_for("admin").get("/api/reports/?status=%FF%FE"), 400, "invalid_input")
    page = Client()
    page.force_login(users["admin"])
    assert page.get("/statistics/?gold=%C3").status_code == 400


def test_nul_in_form_fields_is_a_400(users, client_for) -> None:  # type: ignore[no-untyped-def]
    page = Client()
    page.force_login(users["admin"])
    res = page.post("/manage/gold-versions/", {"name": "v\x00", "note": ""})
    assert res.status_code == 400 and res["Content-Type"].startswith("text/plain")
    # API form bodies: urlencoded (the middleware) and multipart (the API's parser)
    admin = client_for("admin")
    _assert_problem(admin.post("/api/gold/versions/", "name=v%00", content_type="application/x-www-form-urlencoded"),
                    400, "invalid_input")
    _assert_problem(admin.post("/api/gold/versions/", {"name": "v\x00"}, format="multipart"), 400, "parse_error")


def test_too_many_query_or_form_fields_are_a_400(client_for) -> None:  # type: ignore[no-untyped-def]
    # More than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000): Django raises TooManyFieldsSent.
    many = "&".join(f"f{i}=1" for i in range(1200))
    admin = client_for("admin")
    _assert_problem(admin.get("/api/reports/?" + many), 400, "invalid_input")
    _assert_problem(admin.post("/api/gold/versions/", many, content_type="application/x-www-form-urlencoded"),
                    400, "invalid_input")


@pytest.mark.parametrize("body", [{"name": "gold\x00v1"}, {"name": "ok", "note": "a\x00b"}, {"name": "\ud800"}])
def test_nul_or_lone_surrogate_in_json_is_a_400(client_for, body) -> None:  # type: ignore[no-untyped-def]
    res = client_for("admin").post("/api/gold/versions/", json.dumps(body), content_type="application/json")
    _assert_problem(res, 400, "parse_error")


@pytest.mark.parametrize("depth", [65, 20_000])
def test_deeply_nested_json_is_a_400(client_for, depth) -> None:  # type: ignore[no-untyped-def]
    body = '{"name": ' + "[" * depth + "]" * depth + "}"
    res = client_for("admin").post("/api/gold/versions/", body, content_type="application/json")
    body_ = _assert_problem(res, 400, "parse_error")
    assert "64" in body_["detail"]


def test_json_at_the_depth_limit_is_parsed(client_for) -> None:  # type: ignore[no-untyped-def]
    # 64 levels in all (the object is one): parsed, and then refused by the serializer as usual.
    body = '{"name": ' + "[" * 63 + "]" * 63 + "}"
    res = client_for("admin").post("/api/gold/versions/", body, content_type="application/json")
    problem = _assert_problem(res, 400, "invalid")
    assert "name" in problem["errors"]


def test_an_11_mb_json_body_is_a_413_problem(client_for) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"name": "v", "note": "x" * (11 * 1024 * 1024)})
    res = client_for("admin").post("/api/gold/versions/", body, content_type="application/json")
    _assert_problem(res, 413, "request_too_large")


def test_an_oversized_page_form_is_a_plain_413(users, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    page = Client()
    page.force_login(users["admin"])
    res = page.post("/manage/gold-versions/", {"name": "v", "note": "x" * (2 * 1024 * 1024)})
    assert res.status_code == 413 and res["Content-Type"].startswith("text/plain")


def test_file_uploads_keep_their_own_larger_limit(client_for, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Multipart file parts do not count against the body limit (Django counts only
    # the other fields); CHEXGOLD_MAX_UPLOAD_MB is the uploads' limit.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling import tasks

    monkeypatch.setattr(tasks.report_import_task, "delay", lambda batch_id: None)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    rows = b"".join(b"R%06d,Heart size normal. No effusion.\n" % i for i in range(6000))  # ~230 KB
    upload = SimpleUploadedFile("big.csv", b"id,Reports\n" + rows, content_type="text/csv")
    res = client_for("admin").post("/api/imports/", {"file": upload}, format="multipart")
    assert res.status_code == 202, res.content[:500]
    settings.CHEXGOLD_MAX_UPLOAD_MB = 0
    settings.CHEXGOLD_MAX_BODY_MB = 0
    upload = SimpleUploadedFile("big.csv", b"id,Reports\n" + rows, content_type="text/csv")
    _assert_problem(client_for("admin").post("/api/imports/", {"file": upload}, format="multipart"), 413, "request_too_large")


def test_training_overrides_of_the_wrong_type_are_a_400_naming_the_option(client_for) -> None:  # type: ignore[no-untyped-def]
    admin = client_for("admin")
    for overrides, name in [({"epochs": "many"}, "epochs"), ({"learning_rate": "fast"}, "learning_rate"),
                            ({"batch_size": 2.5}, "batch_size"), ({"augmentations": "sentence_shuffle"}, "augmentations"),
                            ({"epochs": 0}, "epochs"), ({"to_dict": 1}, "to_dict")]:
        res = admin.post("/api/training-runs/", {"stage": "gold", "overrides": overrides}, format="json")
        body = _assert_problem(res, 400, "invalid_training_option")
        assert name in body["detail"], body
    assert admin.get("/api/training-runs/").json()["count"] == 0


@pytest.mark.urls("tests.api.boom_urls")
def test_an_integrity_error_is_a_409_problem(db) -> None:  # type: ignore[no-untyped-def]
    res = APIClient(raise_request_exception=False).post("/boom/integrity/")
    body = _assert_problem(res, 409, "conflict")
    assert body["error_id"] and "duplicate" not in body["detail"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_annotation_creates_give_one_annotation_and_a_409(users, client_for, make_reports,
                                                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two identical POST /api/annotations/ at once (a double click, a retry): one
    201, one 409 with the problem body, one annotation. Both requests are held
    until each has looked for an existing annotation (or 2 s have passed, when the
    first holds a lock the second waits for), so they truly overlap."""
    from annotator.services import reads
    from labeling.models import Annotation

    make_reports(1)
    reader = client_for("reader1")
    report_id = reader.post("/api/reports/next/").json()["id"]
    both_looked = threading.Barrier(2, timeout=2)
    looked_up = reads._annotation_for_write

    def held(**kwargs):  # type: ignore[no-untyped-def]
        found = looked_up(**kwargs)
        try:
            both_looked.wait()
        except threading.BrokenBarrierError:
            pass
        return found

    monkeypatch.setattr(reads, "_annotation_for_write", held)
    answers: list = []

    def create() -> None:
        try:
            client = APIClient(raise_request_exception=False)
            client.force_authenticate(users["reader1"])
            answers.append(client.post("/api/annotations/", {"report": report_id, "labels": NORMAL}, format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.content[:300] for a in answers]
    conflict = next(a for a in answers if a.status_code == 409)
    _assert_problem(conflict, 409, "stale_version")  # the service saw the first one, no constraint error
    assert Annotation.objects.filter(report_id=report_id, reader=users["reader1"]).count() == 1

