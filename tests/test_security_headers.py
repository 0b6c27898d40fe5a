"""Response headers: a strict Content-Security-Policy on every HTML page (the API
docs pages have their own, looser one), and `Cache-Control: no-store` on every
page and API answer (report text is protected health information) except
static files and /healthz. Templates hold no inline script, event handler or
style attribute, which that policy would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGES = {
    "reader": ["/queue/", "/statistics/"],
    "adjudicator": ["/adjudicate/", "/statistics/"],
    "admin": ["/manage/users/", "/manage/settings/", "/manage/gold-versions/", "/manage/flags/", "/manage/guidelines/",
              "/manage/imports/", "/manage/training/", "/manage/models/", "/privacy/access-log/", "/statistics/",
              "/admin/"],
}


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def assert_strict_csp(response) -> None:  # type: ignore[no-untyped-def]
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


@pytest.fixture
def signed_in(make_user, settings_row):  # type: ignore[no-untyped-def]
    def client(role: str) -> Client:
        c = Client()
        c.force_login(make_user(f"h-{role}", role))
        return c

    return client


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_has_a_strict_csp_and_no_store(signed_in, role, make_reports) -> None:  # type: ignore[no-untyped-def]
    make_reports(2)
    client = signed_in(role)
    for path in PAGES[role]:
        res = client.get(path)
        assert res.status_code == 200, (path, res.status_code)
        assert_strict_csp(res)
        assert res["Cache-Control"] == "no-store" or "no-store" in res["Cache-Control"], path


def test_login_and_error_pages_have_the_policy_too(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    client = Client()
    for res in (client.get("/accounts/login/"), client.get("/no/such/page/")):
        assert_strict_csp(res)
        assert "no-store" in res["Cache-Control"]


def test_report_text_is_never_cached(signed_in, make_reports) -> None:  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    admin = signed_in("admin")
    for path in (f"/review/{report.id}/", "/manage/exports/gold?format=csv"):
        assert "no-store" in admin.get(path)["Cache-Control"], path
    for path in (f"/api/reports/{report.id}/", "/api/reports/", "/api/gold/export/", "/api/no-such/"):
        assert admin.get(path)["Cache-Control"] == "no-store", path
    assert APIClient().get("/api/reports/")["Cache-Control"] == "no-store"  # errors too


def test_static_files_and_healthz_may_be_cached(db, client) -> None:  # type: ignore[no-untyped-def]
    static = client.get("/static/css/chexgold.css")
    assert static.status_code == 200 and "no-store" not in static.get("Cache-Control", "")
    health = client.get("/healthz")
    assert health.status_code == 200 and "no-store" not in health.get("Cache-Control", "")


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)


def test_templates_have_no_inline_scripts_handlers_or_styles() -> None:
    offenders = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        if template.parent.name == "api":
            continue  # the API docs pages, with their own policy (chexgold/api_urls.py)
        text = template.read_text()
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("event handler", EVENT_HANDLER),
                              ("style attribute", STYLE_ATTRIBUTE), ("<style> element", STYLE_ELEMENT)):
            for match in pattern.finditer(text):
                offenders.append(f"{template.relative_to(TEMPLATES)}: {name}: {match.group(0)[:80]}")
    assert not offenders, "\n".join(offenders)
