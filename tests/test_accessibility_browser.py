"""Every chexgold page passes axe-core (no serious or critical violation) for
every role: reader, adjudicator, admin, and a reader who also adjudicates.

The pages come from the URL conf (tests/browser_pages.py), so a new page is
covered without touching this test; a page a role may not open (403/404) or one
that answers no HTML is skipped for that role. One browser session per role.
axe-core is bundled by axe-playwright-python (test-only; the app never serves it).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser_pages import ROLE_USERS, chexgold_page_paths, login, page_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCKING = {"serious", "critical"}


@pytest.fixture
def world(transactional_db, make_user):  # type: ignore[no-untyped-def]
    return page_world(make_user)


def _violations(axe: Any, page: Any) -> list[str]:
    results = axe.run(page)
    found = []
    for v in results.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
            found.append(f"{page.url}: {v['id']} ({v['impact']}): {v['help']} -> {targets}")
    return found


def _html_ok(response: Any) -> bool:
    return response is not None and response.status == 200 and "text/html" in response.headers.get("content-type", "")


@pytest.mark.slow  # about 10 s per role: every page, axe on each
@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_page_passes_axe(chromium, live_server, world, role: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    # The Content-Security-Policy forbids injected scripts; axe is the test's, not the page's.
    page = login(chromium, live_server, role, bypass_csp=True)
    context = page.context
    problems = _violations(axe, page)  # the page login lands on
    checked = [page.url]
    for candidates in chexgold_page_paths(world):
        for path in candidates:
            try:
                response = page.goto(live_server.url + path)
            except PlaywrightError:  # an empty error answer (405 to a POST-only URL): Chromium's error page
                page.close()  # would interrupt the next navigation; a new tab keeps the session
                page = context.new_page()
                continue
            if _html_ok(response):
                page.wait_for_load_state("load")
                problems += _violations(axe, page)
                checked.append(path)
                break
    assert len(checked) >= 3, checked  # the walk found the role's pages
    assert not problems, "\n".join(problems)
    context.close()


def test_login_and_error_pages_pass_axe(chromium, live_server, world) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = chromium.new_context(bypass_csp=True).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    problems = _violations(axe, page)
    assert page.goto(f"{live_server.url}/no-such-page/").status == 404
    problems += _violations(axe, page)
    assert not problems, "\n".join(problems)
    page.context.close()
