"""Keyboard-only reading and adjudication (issue #17) in Debian's Chromium.

Jumping to an observation by its two-letter code (`o` then the code), cycling
through contested / disagreeing rows (`c`, Shift+C), setting a value there with
the value keys, the shortcut sheet (`?`, Escape), the focusable scrollable report
text (`r`), Tab reaching every control, and the adjudication keys (`a`/`b`/`m`
per row, Shift for all rows, `w` rationale) with the rationale the page requires
when the adjudicator overrides both readers.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotator.test_browser import browser, group, login, ready  # noqa: F401  (browser: fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_TEXT = (
    "FINDINGS: Small left pleural effusion. Mild interstitial edema. Heart size is normal.\n"
    + "".join(f"Line {i}: no change in the appearance of the chest compared with the prior study.\n" for i in range(80))
    + "IMPRESSION: Small effusion and mild edema."
)


@pytest.fixture
def kdemo(transactional_db, make_user):  # type: ignore[no-untyped-def]
    from labeling.models import MachinePrediction, RuntimeSettings
    from labeling.selectors import runtime_settings_get
    from labeling.services.report_import import _sections_for_storage
    from tests.factories import ModelVersionFactory, ReportFactory, labels

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, True
    row.save()
    users = {name: make_user(name, role) for name, role in
             (("reader1", "reader"), ("reader2", "reader"), ("adjudicator", "adjudicator"))}
    report = ReportFactory(external_id="CXR-0100", text=LONG_TEXT, sections=_sections_for_storage(LONG_TEXT))
    MachinePrediction.objects.create(report=report, source="rules", source_version="test",
                                     labels=labels(pleural_effusion="positive", edema="positive"))
    # A gate that lets the model contest the rules (labeling.routing): where they
    # disagree (Edema, Fracture) the row is contested, not pre-filled.
    model = ModelVersionFactory(is_active=True, gate={"status": "rules_agreement"})
    MachinePrediction.objects.create(report=report, source="model", source_version=model.name, model_version=model,
                                     labels=labels(pleural_effusion="positive", edema="negative", fracture="positive"))
    return {"users": users, "report": report}


def focused_in(page, name: str):  # type: ignore[no-untyped-def]
    return group(page, name).locator("input:focus")


def assert_tab_reaches(page, *wanted: str) -> None:  # type: ignore[no-untyped-def]
    """Tab from the first link through the page (wrapping) reaches each control, named by name, id or text."""
    page.get_by_role("link").first.focus()
    reached: set[str] = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.getAttribute('name') || document.activeElement.id"
                                  " || document.activeElement.textContent.trim()"))
    for want in wanted:
        assert want in reached, want
    page.get_by_role("link").first.focus()  # out of any text field, so the next keys are shortcuts


def test_reader_keys_jump_contested_sheet_and_report_text(browser, live_server, kdemo) -> None:  # noqa: F811
    page = login(browser, live_server, "reader1")
    page.keyboard.press("n")
    page.get_by_role("heading", name="Label this report").wait_for()
    ready(page)

    # The shortcut sheet lists every key; Escape closes it.
    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(sheet).to_be_visible()
    for text in ("o then a two-letter code", "Pleural Effusion", "contested or disagreeing", "Focus the report text",
                 "Positive, Negative, Uncertain, Blank", "Skip this report", "Flag this report"):
        expect(sheet).to_contain_text(text)
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    # Jump by code, then set a value with one key.
    page.keyboard.press("o")
    expect(page.locator("#jump-status")).to_contain_text("Go to")
    page.keyboard.press("p")
    page.keyboard.press("e")
    expect(focused_in(page, "Pleural Effusion")).to_have_count(1)
    expect(page.locator("#jump-status")).to_have_text("Jumped to Pleural Effusion")
    page.keyboard.press("2")
    assert group(page, "Pleural Effusion").get_by_role("radio", name="Negative").is_checked()
    page.keyboard.press("o")
    page.keyboard.press("s")
    page.keyboard.press("d")
    expect(focused_in(page, "Support Devices")).to_have_count(1)
    page.keyboard.press("o")  # an unknown code cancels the jump; the row stays
    page.keyboard.press("z")
    expect(page.locator("#jump-status")).to_contain_text("No observation")
    expect(focused_in(page, "Support Devices")).to_have_count(1)

    # c / Shift+C: next / previous row needing attention (rule ≠ model or contested), wrapping.
    assert not group(page, "Edema").locator("input:checked").count()  # contested: no pre-filled value
    page.keyboard.press("c")
    expect(focused_in(page, "Edema")).to_have_count(1)
    page.keyboard.press("1")
    assert group(page, "Edema").get_by_role("radio", name="Positive").is_checked()
    page.keyboard.press("c")
    expect(focused_in(page, "Fracture")).to_have_count(1)
    page.keyboard.press("Shift+C")
    expect(focused_in(page, "Edema")).to_have_count(1)

    # The report text: focusable, named, scrolled by the keyboard; j returns to the labels.
    text = page.get_by_role("document", name="Report text, scrollable (r focuses it)")
    expect(text).to_have_attribute("tabindex", "0")
    page.keyboard.press("r")
    expect(text).to_be_focused()
    last = page.locator("#report-text span").last
    before = last.bounding_box()
    page.keyboard.press("End")
    page.keyboard.press("PageDown")
    expect(last).to_be_in_viewport()
    after = last.bounding_box()
    assert before and after and after["y"] < before["y"]  # scrolled up into view
    page.keyboard.press("j")
    expect(focused_in(page, "Edema")).to_have_count(1)

    # Tab reaches the report text, every observation, submit, skip and flag.
    assert_tab_reaches(page, "report-text", "obs-no_finding", "obs-support_devices", "Submit (Ctrl+Enter)", "Skip (s)",
                       "flag-button", "help-button")

    page.keyboard.press("Control+Enter")  # Fracture is still contested: the read is not sent
    expect(page.locator("#save-status")).to_contain_text("Choose a value for Fracture")
    expect(focused_in(page, "Fracture")).to_have_count(1)
    page.keyboard.press("2")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/queue/")
    from labeling.models import Annotation

    mine = Annotation.objects.get(reader=kdemo["users"]["reader1"], report=kdemo["report"])
    assert mine.labels["Pleural Effusion"] == "negative" and mine.labels["Edema"] == "positive"
    assert mine.labels["Fracture"] == "negative"
    page.close()


def _two_disagreeing_reads(kdemo) -> None:  # type: ignore[no-untyped-def]
    from annotator import services
    from tests.factories import labels

    reads = {"reader1": labels(pleural_effusion="positive", edema="positive"),
             "reader2": labels(pleural_effusion="uncertain", edema="negative")}
    for name, values in reads.items():
        reader = kdemo["users"][name]
        assert services.next_report_assign(reader=reader) == kdemo["report"]
        services.annotation_submit(reader=reader, report=kdemo["report"], labels=values, expected_version=0,
                                   override_warnings=True)


def test_adjudicator_keys_and_required_rationale(browser, live_server, kdemo) -> None:  # noqa: F811
    from labeling.models import GoldLabel

    _two_disagreeing_reads(kdemo)
    page = login(browser, live_server, "adjudicator")
    page.goto(f"{live_server.url}/adjudicate/{kdemo['report'].id}/")
    ready(page)
    radio = lambda obs, value: group(page, obs).get_by_role("radio", name=value)  # noqa: E731

    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(sheet).to_contain_text("Take all of Reader A")
    expect(sheet).to_contain_text("Write the rationale")
    page.keyboard.press("Escape")

    page.keyboard.press("c")  # first conflicting row
    expect(focused_in(page, "Edema")).to_have_count(1)
    page.keyboard.press("b")
    assert radio("Edema", "Negative").is_checked()
    page.keyboard.press("a")
    assert radio("Edema", "Positive").is_checked()
    page.keyboard.press("m")  # the active model says negative
    assert radio("Edema", "Negative").is_checked()
    page.keyboard.press("Shift+B")
    assert radio("Edema", "Negative").is_checked() and radio("Pleural Effusion", "Uncertain").is_checked()
    page.keyboard.press("Shift+M")  # every row from the active model (rules where it has no value)
    assert radio("Edema", "Negative").is_checked() and radio("Fracture", "Positive").is_checked()
    page.keyboard.press("Shift+A")
    assert radio("Edema", "Positive").is_checked() and radio("Pleural Effusion", "Positive").is_checked()
    assert radio("Fracture", "Blank").is_checked()

    assert_tab_reaches(page, "report-text", "obs-no_finding", "obs-support_devices", "rationale", "Save gold labels (Ctrl+Enter)",
                       "help-button")

    # Overriding both readers (uncertain where they said positive / negative) needs a rationale.
    page.keyboard.press("o")
    page.keyboard.press("e")
    page.keyboard.press("d")
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("alert")).to_contain_text("Write a rationale")
    expect(page.get_by_role("textbox", name="Rationale")).to_be_focused()
    assert not GoldLabel.objects.exists()
    page.keyboard.press("Escape")  # back to the labels
    expect(focused_in(page, "Edema")).to_have_count(1)
    page.keyboard.press("w")
    page.keyboard.type("Edema equivocal on both reads.")
    page.keyboard.press("Control+Enter")
    page.get_by_text("Gold labels saved for CXR-0100").wait_for()
    gold = GoldLabel.objects.get(report=kdemo["report"], is_current=True)
    assert gold.labels["Edema"] == "uncertain" and gold.labels["Pleural Effusion"] == "positive"
    assert gold.rationale == "Edema equivocal on both reads."
    page.close()
