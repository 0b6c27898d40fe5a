"""Reader-experience polish (issue #17) in Debian's Chromium, by accessible role
and name: the review labels read as a table, the ≠ mark on both pages, the flag
dialog without a default reason, unshaded heading whitespace, one navigation per
role, the favicon, and import feedback in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_pages import login, page_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db, make_user):  # type: ignore[no-untyped-def]
    return page_world(make_user)


def _nav(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()


def test_review_table_mark_flag_and_shading(chromium, live_server, world) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from annotator.models import Flag

    review_id, disputed_id = world["report_ids"][1], world["report_ids"][0]
    page = login(chromium, live_server, "both", bypass_csp=True)  # bypass: axe is injected below
    page.goto(f"{live_server.url}/review/{review_id}/")
    page.locator("body[data-keyboard-ready]").wait_for(state="attached")
    table = page.get_by_role("table", name="Observation labels")
    headers = table.get_by_role("columnheader")
    assert [h.split("(")[0].strip() for h in headers.all_inner_texts()][:4] == ["Observation", "Your label", "Rules", "Model"]
    expect(table.get_by_role("columnheader", name="Rules and model differ")).to_have_count(1)
    # Each value sits under its header: same left edge, same number of cells as headers.
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Pleural Effusion", exact=True))
    cells = row.get_by_role("cell")
    assert cells.count() + 1 == headers.count()
    for header, cell in zip(headers.all()[1:], cells.all(), strict=True):
        assert abs(header.bounding_box()["x"] - cell.bounding_box()["x"]) < 2
    model = row.locator(".machine.model")
    assert model.inner_text().startswith("uncertain 0.80")
    assert model.bounding_box()["height"] <= row.locator(".machine.rule").bounding_box()["height"] + 1  # one line, no wrap
    assert "≠" in row.locator(".differs-badge").inner_text()
    # Section headings: shaded words, never the whitespace around them.
    headings = page.locator("#report-text .sec-heading").all_inner_texts()
    assert headings and all(h == h.strip() for h in headings), headings

    # The flag dialog has no default reason: Enter records nothing until one is chosen.
    page.keyboard.press("f")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    for radio in dialog.get_by_role("radio").all():
        assert not radio.is_checked()
    serious = [v["id"] for v in Axe().run(page, context="#flag-dialog").response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, serious  # the open dialog passes axe-core too (closed, the page walk cannot see it)
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    assert not Flag.objects.filter(report_id=review_id).exists()
    dialog.get_by_role("radio", name="Truncated").check()
    dialog.get_by_role("button", name="Flag report").click()
    page.wait_for_url(lambda url: f"/review/{review_id}/" not in url)
    assert Flag.objects.get(report_id=review_id).reason == Flag.Reason.TRUNCATED

    # The ≠ mark on the adjudication page too.
    page.goto(f"{live_server.url}/adjudicate/{disputed_id}/")
    adjudication = page.get_by_role("table")
    expect(adjudication.get_by_role("columnheader", name="Rules and model differ")).to_have_count(1)
    line = adjudication.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Pleural Effusion", exact=True))
    assert "≠" in line.locator(".differs-badge").inner_text()
    no_finding = adjudication.get_by_role("row").filter(has=page.get_by_role("rowheader", name="No Finding", exact=True))
    assert "≠" not in no_finding.locator(".differs-badge").inner_text()
    page.context.close()


def test_one_navigation_per_role_and_favicon(chromium, live_server, world) -> None:
    page = login(chromium, live_server, "both")
    navs = {}
    for path in ("/queue/", f"/review/{world['report_ids'][1]}/", "/adjudicate/", f"/adjudicate/{world['report_ids'][0]}/",
                 "/statistics/", "/accounts/password/"):
        page.goto(live_server.url + path)
        navs[path] = _nav(page)
    assert len({tuple(n) for n in navs.values()}) == 1, navs
    assert navs["/queue/"] == ["Queue", "Adjudication", "Statistics", "Password"]
    expect(page.get_by_role("link", name="Password")).to_have_attribute("aria-current", "page")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and icon.startswith("data:image/svg+xml,") and "%23102a43" in icon  # inline: no request per page
    response = page.goto(f"{live_server.url}/favicon.ico")  # browsers ask for it regardless
    assert response.status == 200 and response.url.endswith("favicon.svg")
    page.context.close()

    admin = login(chromium, live_server, "admin")
    admin.goto(f"{live_server.url}/statistics/")
    statistics_nav = _nav(admin)
    admin.goto(f"{live_server.url}/manage/imports/")
    assert _nav(admin) == statistics_nav and "Users" in statistics_nav and "Queue" not in statistics_nav
    admin.context.close()


def test_import_feedback_says_what_happened(chromium, live_server, world, tmp_path: Path) -> None:
    from labeling.services.report_import import report_import

    bad = tmp_path / "bad.csv"
    bad.write_text("id,study_date,Reports\n1,2024-13-40,Clear.\n")
    report_import(path=bad, filename="bad.csv")  # a failed batch in the list
    good = tmp_path / "good.csv"
    good.write_text("id,Reports\nG-1,Clear lungs.\nG-2,No effusion.\n")
    report_import(path=good, filename="good.csv")
    page = login(chromium, live_server, "admin")
    page.goto(f"{live_server.url}/manage/imports/")
    failed = page.get_by_role("row").filter(has_text="bad.csv")
    expect(failed.locator(".outcome")).to_have_text("0 reports imported: the file failed validation, see the error below.")
    done = page.get_by_role("row").filter(has_text="good.csv")
    expect(done.locator(".outcome")).to_have_text("2 reports imported (2 rows read).")
    # Uploading a bad file says so in the same words.
    page.get_by_label("Report file (CSV or JSONL)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and import", exact=True).click()
    expect(page.get_by_text("0 reports imported: bad.csv failed validation")).to_be_visible()
    page.context.close()
