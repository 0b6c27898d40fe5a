"""The Content-Security-Policy in a real browser: each role signs in and opens
its main pages in Debian's Chromium; the pages carry the strict policy, and
Chromium reports no violation (no console message about the policy, "Refused
to ..." or "... violates the following Content Security Policy directive", and
no securitypolicyviolation event) and no script error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.conftest import NORMAL, read_and_submit
from tests.factories import labels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def watch(page, problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Collect every CSP complaint and script error `page` reports."""
    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        text = message.text
        if "Refused to" in text or "Content Security Policy" in text or "CSP violation" in text:
            problems.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: script error {e}"))


REPORT_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def site(transactional_db, make_user, settings_row, make_reports):  # type: ignore[no-untyped-def]
    """Three reports; two readers disagree on the first (adjudication has work); a flag to resolve."""
    from rest_framework.test import APIClient

    users = {name: make_user(name, role) for name, role in
             (("reader1", "reader"), ("reader2", "reader"), ("adjudicator", "adjudicator"), ("boss", "admin"))}
    reports = make_reports(3)
    for name, values in (("reader1", NORMAL), ("reader2", labels(edema="positive"))):
        client = APIClient()
        client.force_authenticate(users[name])
        read_and_submit(client, values)
    return {"users": users, "reports": reports}


def _open_pages(browser, live_server, username: str, paths: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Sign in as `username`, open each path; every CSP complaint and script error seen."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(REPORT_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (path, policy)
        page.wait_for_load_state("networkidle")
    context.close()
    return problems


def test_main_pages_of_every_role_raise_no_csp_violation(chromium, live_server, site) -> None:  # type: ignore[no-untyped-def]
    first = site["reports"][0]
    problems = []
    problems += _open_pages(chromium, live_server, "reader1",
                            ["/queue/", f"/review/{first.id}/", "/statistics/", "/accounts/password/"])
    problems += _open_pages(chromium, live_server, "reader2", ["/queue/", f"/review/{first.id}/"])
    problems += _open_pages(chromium, live_server, "adjudicator",
                            ["/adjudicate/", f"/adjudicate/{first.id}/", "/statistics/"])
    problems += _open_pages(chromium, live_server, "boss", [
        "/manage/users/", "/manage/settings/", "/manage/gold-versions/", "/manage/flags/",
        "/manage/guidelines/", "/manage/imports/", "/manage/training/", "/manage/models/", "/privacy/access-log/",
        "/statistics/", "/admin/",
    ])
    assert not problems, "\n".join(problems)


def test_the_queue_shortcut_still_works_from_its_own_script(chromium, live_server, site) -> None:  # type: ignore[no-untyped-def]
    """The queue page's `n` shortcut moved from an inline script to static/js/queue.js;
    the review page it opens (a fresh draft, autosaving) raises no violation either."""
    context = chromium.new_context()
    context.add_init_script(REPORT_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("reader1")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_label("Password").press("Enter")
    page.get_by_role("button", name="Next report").wait_for()
    page.locator("body[data-keyboard-ready]").wait_for(state="attached")  # queue.js has its key listener
    page.locator("body").press("n")
    page.wait_for_url("**/review/**")
    page.locator("body[data-keyboard-ready]").wait_for(state="attached")
    page.keyboard.press("3")  # uncertain: a change from any pre-fill, so the draft autosaves
    expect(page.locator("#save-status")).to_have_text("Draft saved")  # no wait_for_function: eval is refused by the CSP
    context.close()
    assert not problems, "\n".join(problems)


def test_the_api_docs_work_under_their_own_policy(chromium, live_server, site) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI and Redoc (served locally) render with the docs pages' looser policy, without violations."""
    context = chromium.new_context()
    context.add_init_script(REPORT_LISTENER)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("reader1")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info .title").filter(has_text="chexgold API").wait_for()
    page.goto(f"{live_server.url}/api/redoc/")
    page.get_by_role("heading", name="chexgold API").first.wait_for()
    page.wait_for_load_state("networkidle")
    context.close()
    # Redoc's footer logo comes from its CDN: blocked on purpose (nothing is fetched from another site).
    problems = [p for p in problems if "cdn.redoc.ly/" not in p]
    assert not problems, "\n".join(problems)
