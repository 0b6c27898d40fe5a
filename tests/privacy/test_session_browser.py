"""The idle-session warning in Debian's Chromium: it appears before the timeout,
"Stay signed in" keeps the session, and ignoring it signs the user out."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_idle_warning_stay_signed_in_then_timeout(chromium, live_server, settings, make_user) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_SESSION_IDLE_MINUTES = 0.15  # 9 s
    settings.CHEXGOLD_SESSION_WARN_MINUTES = 0.1  # warn 4.5 s before (at most half the limit)
    make_user("reader1", "reader")
    page = chromium.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("reader1")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="My queue").wait_for()

    warning = page.get_by_role("alertdialog")
    warning.wait_for(state="visible")
    assert "signed out in" in warning.inner_text()
    page.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden")
    page.wait_for_timeout(6_000)  # past the original deadline: still signed in
    assert "/accounts/login/" not in page.url

    warning.wait_for(state="visible")  # warned again; this time ignore it
    page.wait_for_url("**/accounts/login/**", timeout=20_000)
    page.goto(f"{live_server.url}/queue/")
    assert "/accounts/login/" in page.url  # the server ended the session too
    page.close()
