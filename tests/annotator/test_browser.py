"""Browser tests in Debian's Chromium through Playwright, by accessible role and name.

The done-when flow: keyboard-only labelling, a disagreeing second reader, the
adjudicator resolving it, the gold export containing the result, and blinding
by URL. Also saves the screenshots referenced in README.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = screenshot_dir()

# An astral character (2 UTF-16 units) before the evidence span checks offset conversion.
EMOJI_TEXT = "FINDINGS: 🫁 Patient ok. Small left pleural effusion. Heart size is normal.\nIMPRESSION: Small effusion."


@pytest.fixture
def browser(chromium):  # type: ignore[no-untyped-def]
    return chromium


@pytest.fixture
def demo(transactional_db, make_user):  # type: ignore[no-untyped-def]
    from labeling.models import MachinePrediction, RuntimeSettings
    from labeling.selectors import runtime_settings_get
    from tests.factories import ReportFactory, labels

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, True
    row.save()
    users = {name: make_user(name, role) for name, role in
             (("reader1", "reader"), ("reader2", "reader"), ("adjudicator", "adjudicator"), ("boss", "admin"))}
    start = EMOJI_TEXT.index("Small left pleural effusion")
    phrase = "pleural effusion"
    p_start = EMOJI_TEXT.index(phrase)
    from labeling.services.report_import import _sections_for_storage

    first = ReportFactory(external_id="CXR-0001", text=EMOJI_TEXT, sections=_sections_for_storage(EMOJI_TEXT))
    MachinePrediction.objects.create(
        report=first, source="rules", source_version="test",
        labels=labels(pleural_effusion="positive", lung_opacity="blank"),
        evidence={"Pleural Effusion": [{"start": p_start, "end": p_start + len(phrase), "phrase": phrase, "value": "positive",
                                        "sentence_start": start, "sentence_end": start + 28, "cue": None, "cue_start": None, "cue_end": None}]},
    )
    second = ReportFactory(external_id="CXR-0002")
    MachinePrediction.objects.create(report=second, source="rules", source_version="test", labels=labels(no_finding="positive"))
    return {"users": users, "reports": [first, second]}


def login(browser, live_server, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.wait_for_load_state()
    return page


def ready(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("body[data-keyboard-ready]").wait_for(state="attached")


def group(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("radiogroup", name=name, exact=True)


def test_keyboard_review_adjudication_and_export(browser, live_server, demo, settings) -> None:
    from labeling.models import Annotation, GoldLabel
    from labeling.services.exports import gold_label_set_export

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Reader 1: the queue, then the whole read with the keyboard only.
    page = login(browser, live_server, "reader1")
    page.get_by_role("button", name="Next report").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "queue.png"))
    page.keyboard.press("n")
    page.get_by_role("heading", name="Label this report").wait_for()
    ready(page)
    effusion = group(page, "Pleural Effusion")
    assert effusion.get_by_role("radio", name="Positive").is_checked()  # pre-filled from the rule labels
    # Focus starts on No Finding; j moves down to Pleural Effusion (row 11).
    for _ in range(10):
        page.keyboard.press("j")
    mark = page.locator("#report-text mark")
    assert mark.inner_text() == "pleural effusion"  # the emoji before it did not shift the span
    page.keyboard.press("k")
    page.keyboard.press("j")
    page.keyboard.press("j")  # Pleural Other
    page.keyboard.press("3")
    assert group(page, "Pleural Other").get_by_role("radio", name="Uncertain").is_checked()
    page.keyboard.press("0")  # back to blank
    page.keyboard.press("k")
    page.keyboard.press("g")
    page.get_by_text("Guideline: Pleural Effusion").wait_for()
    expect(page.locator("#save-status")).to_have_text("Draft saved")  # no wait_for_function: eval is refused by the CSP
    page.screenshot(path=str(SCREENSHOTS / "review.png"))
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{demo['reports'][1].id}/")  # straight to the next report
    mine = Annotation.objects.get(reader=demo["users"]["reader1"], report=demo["reports"][0])
    assert mine.status == "submitted" and mine.labels["Pleural Effusion"] == "positive" and mine.time_spent_seconds > 0

    # Shortcut list and typing in a text field do not trigger shortcuts.
    page.keyboard.press("?")
    page.get_by_role("heading", name="Keyboard shortcuts").wait_for()
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    page.get_by_role("textbox", name="Reason").fill("snf")  # 's', 'n', 'f' typed, not shortcuts
    assert page.url.endswith(f"/review/{demo['reports'][1].id}/")
    page.get_by_role("button", name="Cancel").click()
    page.close()

    # Reader 2 disagrees on one observation (Pleural Effusion uncertain).
    page = login(browser, live_server, "reader2")
    page.keyboard.press("n")
    ready(page)
    for _ in range(10):
        page.keyboard.press("j")
    page.keyboard.press("3")
    expect(page.locator("#save-status")).to_have_text("Draft saved")  # no wait_for_function: eval is refused by the CSP
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{demo['reports'][1].id}/")
    theirs = Annotation.objects.get(reader=demo["users"]["reader2"], report=demo["reports"][0])
    assert theirs.status == "submitted" and theirs.labels["Pleural Effusion"] == "uncertain"
    assert not GoldLabel.objects.exists()

    # Blinding by URL: reader 2 cannot open reader 1's annotation; their own opens.
    assert page.goto(f"{live_server.url}/annotations/{mine.id}/").status == 404
    assert page.goto(f"{live_server.url}/annotations/{theirs.id}/").status == 200
    assert page.goto(f"{live_server.url}/adjudicate/{demo['reports'][0].id}/").status == 403
    page.close()

    # The adjudicator resolves the conflict with the keyboard.
    page = login(browser, live_server, "adjudicator")
    page.get_by_role("link", name="CXR-0001").click()
    page.get_by_role("columnheader", name="Reader A").wait_for()
    ready(page)
    assert "reader1" not in page.content() and "reader2" not in page.content()  # anonymised
    final = group(page, "Pleural Effusion")
    assert not final.get_by_role("radio", name="Positive").is_checked()  # conflict: no pre-filled value
    for _ in range(10):
        page.keyboard.press("j")
    page.keyboard.press("1")
    page.get_by_role("textbox", name="Rationale").fill("Effusion stated without hedging.")
    page.screenshot(path=str(SCREENSHOTS / "adjudication.png"), full_page=True)
    page.get_by_role("textbox", name="Rationale").press("Control+Enter")
    page.get_by_text("Gold labels saved for CXR-0001").wait_for()
    page.close()

    gold = GoldLabel.objects.get(report=demo["reports"][0], is_current=True)
    assert gold.method == "adjudicated" and gold.labels["Pleural Effusion"] == "positive"
    exported = "".join(gold_label_set_export(fmt="jsonl"))
    assert "CXR-0001" in exported and "Effusion stated without hedging." in exported

    # Reader 1 now sees the gold labels as feedback on their read, with the rationale
    # (feedback comes in batches: here made due at once).
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0
    page = login(browser, live_server, "reader1")
    page.goto(f"{live_server.url}/review/{demo['reports'][0].id}/")
    page.get_by_role("heading", name="Gold labels").wait_for()
    page.get_by_text("Effusion stated without hedging.").wait_for()
    page.close()


def test_admin_pages_render(browser, live_server, demo) -> None:
    page = login(browser, live_server, "boss")
    page.goto(f"{live_server.url}/manage/settings/")
    page.get_by_label("Reads per report (k)").fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "admin-settings.png"))
    page.goto(f"{live_server.url}/manage/users/")
    page.get_by_role("button", name="Create user").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "admin-users.png"), full_page=True)
    page.close()


