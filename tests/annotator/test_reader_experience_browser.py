"""Reader experience (issue #17) in Debian's Chromium, by accessible role and name:
reopening one's own read with the keyboard (`u`) until it is used, and the page
saying why once it is; the honest submit message; the progress panel; the "my
reads vs gold" page in batches; and calibration reports run from the admin page,
served unannounced, with feedback only after the period ends."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from tests.annotator.test_browser import browser, group, login, ready  # noqa: F401  (browser: fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HONEST = re.compile(r"^Submitted CXR-\d+: your read is saved\.$")


@pytest.fixture
def rdemo(transactional_db, make_user):  # type: ignore[no-untyped-def]
    """Three plain reports (rules: Pleural Effusion positive), k = 2, three readers,
    an adjudicator and an admin."""
    from labeling.models import MachinePrediction, RuntimeSettings
    from labeling.selectors import runtime_settings_get
    from tests.factories import ReportFactory, labels

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, True
    row.save()
    users = {name: make_user(name, role) for name, role in
             (("reader1", "reader"), ("reader2", "reader"), ("reader3", "reader"), ("adjudicator", "adjudicator"),
              ("boss", "admin"))}
    reports = [ReportFactory(external_id=f"CXR-02{i}") for i in range(3)]
    for report in reports:
        MachinePrediction.objects.create(report=report, source="rules", source_version="test",
                                         labels=labels(pleural_effusion="positive"))
    return {"users": users, "reports": reports}


def _press(page, *keys: str) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        page.keyboard.press(key)


def _service_read(reader, report, **values: str):  # type: ignore[no-untyped-def]
    from annotator import services
    from tests.factories import labels

    assert services.next_report_assign(reader=reader) == report
    result = services.annotation_submit(reader=reader, report=report, labels=labels(**values), expected_version=0,
                                        override_warnings=True)
    assert result.submitted
    return result.annotation


def test_reopen_by_keyboard_until_the_read_is_used(browser, live_server, rdemo) -> None:  # noqa: F811
    from labeling.models import Annotation

    first, second = rdemo["reports"][:2]
    reader1 = rdemo["users"]["reader1"]
    page = login(browser, live_server, "reader1")
    ready(page)
    page.keyboard.press("n")
    page.get_by_role("heading", name="Label this report").wait_for()
    ready(page)
    _press(page, "o", "e", "d", "1")  # Edema positive
    assert group(page, "Edema").get_by_role("radio", name="Positive").is_checked()
    expect(page.locator("#save-status")).to_have_text("Draft saved")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{second.id}/")
    expect(page.get_by_text(HONEST)).to_have_text(f"Submitted {first.external_id}: your read is saved.")

    # Back to the submitted read: it is offered for change until used; u reopens it.
    page.goto(f"{live_server.url}/review/{first.id}/")
    page.get_by_role("heading", name="Your read").wait_for()
    ready(page)
    expect(page.get_by_role("button", name="Change my read (u)")).to_be_visible()
    assert group(page, "Edema").get_by_role("radio", name="Positive").is_disabled()
    page.keyboard.press("u")
    page.get_by_text(f"Reopened {first.external_id}: change your read and submit it again.").wait_for()
    page.get_by_role("heading", name="Label this report").wait_for()
    ready(page)
    assert Annotation.objects.get(reader=reader1, report=first).status == Annotation.Status.DRAFT
    _press(page, "o", "e", "d", "2")  # Edema: positive → negative
    assert group(page, "Edema").get_by_role("radio", name="Negative").is_checked()
    expect(page.locator("#save-status")).to_have_text("Draft saved")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{second.id}/")
    mine = Annotation.objects.get(reader=reader1, report=first)
    assert mine.status == Annotation.Status.SUBMITTED and mine.labels["Edema"] == "negative"
    # History kept: both submitted versions are in the audit log, nothing overwritten.
    submitted = [h.labels["Edema"] for h in mine.history.filter(status="submitted").order_by("history_date")]
    assert submitted[0] == "positive" and submitted[-1] == "negative"

    # The page is open with the change offered when a second reader sends the report
    # to adjudication: u then answers why it can no longer be changed.
    page.goto(f"{live_server.url}/review/{first.id}/")
    ready(page)
    expect(page.get_by_role("button", name="Change my read (u)")).to_be_visible()
    _service_read(rdemo["users"]["reader2"], first, edema="positive", pleural_effusion="positive")
    page.keyboard.press("u")
    expect(page.get_by_role("alert")).to_have_text("This read can no longer be changed: its report is gold or awaits adjudication.")
    assert Annotation.objects.get(reader=reader1, report=first).status == Annotation.Status.SUBMITTED
    # Reloaded, the page no longer offers the change and says why, also when u is pressed.
    page.goto(f"{live_server.url}/review/{first.id}/")
    ready(page)
    expect(page.get_by_role("button", name="Change my read (u)")).to_have_count(0)
    why = "Your read can no longer be changed: its report is gold or awaits adjudication."
    expect(page.get_by_text(why)).to_be_visible()
    page.keyboard.press("u")
    expect(page.get_by_role("status").filter(has_text=why)).to_be_visible()
    page.close()

    api = APIClient()
    api.force_authenticate(reader1)
    refused = api.post(f"/api/annotations/{mine.id}/reopen/", {"version": mine.version}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "read_used"


def test_honest_submit_progress_panel_and_my_reads_vs_gold(browser, live_server, rdemo, settings) -> None:  # noqa: F811
    from annotator import services
    from labeling.models import GoldLabel
    from tests.factories import labels

    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 1
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 24
    agreed, disputed, third = rdemo["reports"]
    # Reader 1 reads the first two; reader 2 agrees on one and disagrees on the other.
    _service_read(rdemo["users"]["reader1"], agreed, pleural_effusion="positive")
    _service_read(rdemo["users"]["reader1"], disputed, pleural_effusion="positive")

    page = login(browser, live_server, "reader2")
    progress = page.get_by_role("region", name="Progress")
    pace = progress.get_by_role("definition")
    expect(page.get_by_test_id("reads-today")).to_have_text("0")
    expect(page.get_by_test_id("median-seconds")).to_have_text("–")
    assert pace.count() >= 7  # assigned, done, remaining; today, week, awaiting, median
    ready(page)
    page.keyboard.press("n")
    ready(page)
    page.keyboard.press("Control+Enter")  # the pre-fill as is: agrees with reader 1
    page.wait_for_url(f"**/review/{disputed.id}/")
    said_after_agreement = page.get_by_text(HONEST).inner_text()
    assert GoldLabel.objects.filter(report=agreed, is_current=True).exists()
    ready(page)
    _press(page, "o", "p", "e", "3")  # uncertain where reader 1 said positive
    expect(page.locator("#save-status")).to_have_text("Draft saved")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{third.id}/")
    said_after_disagreement = page.get_by_text(HONEST).inner_text()
    # The message is the same either way: nothing tells the second reader what the first read.
    assert said_after_agreement.replace(agreed.external_id, "X") == said_after_disagreement.replace(disputed.external_id, "X")
    services.gold_adjudicate(report=disputed, adjudicator=rdemo["users"]["adjudicator"],
                             labels=labels(pleural_effusion="negative"), rationale="No effusion on review.",
                             expected_current_gold_id=None)

    # Not yet due for the disputed report (no read since it): "my reads vs gold" shows the agreed one only.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    page.get_by_role("link", name="My reads vs gold").click()
    table = page.get_by_role("table", name="My reads vs gold")
    expect(table.get_by_role("row")).to_have_count(2)  # header + the agreed report
    expect(table.get_by_role("row", name=re.compile(agreed.external_id))).to_contain_text("Agreed with gold")
    assert "No effusion on review." not in page.content()

    # One more read: feedback on the disputed report is due, with the rationale.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    ready(page)
    page.keyboard.press("n")
    ready(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/queue/")
    expect(page.get_by_test_id("reads-today")).to_have_text("3")
    expect(page.get_by_test_id("reads-week")).to_have_text("3")
    expect(page.get_by_test_id("median-seconds")).to_have_text(re.compile(r"^\d+ s$"))
    page.get_by_role("link", name="My reads vs gold").click()
    row = table.get_by_role("row", name=re.compile(disputed.external_id))
    expect(row).to_contain_text("Pleural Effusion: uncertain → negative")
    expect(row).to_contain_text("No effusion on review.")
    page.close()


def test_calibration_admin_page_and_unannounced_calibration_read(browser, live_server, rdemo, settings) -> None:  # noqa: F811
    from labeling.models import Annotation

    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 1
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 24
    calibration, normal, _ = rdemo["reports"]
    for name in ("reader1", "reader2"):  # gold by agreement
        _service_read(rdemo["users"][name], calibration, pleural_effusion="positive")

    # The admin marks the gold report, sets the rate and opens a period, all by role names.
    admin = login(browser, live_server, "boss")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Calibration").click()
    admin.get_by_role("heading", name="Calibration reports", level=1).wait_for()
    admin.get_by_role("spinbutton", name="Gold report id").fill(str(calibration.id))
    admin.get_by_role("button", name="Mark as calibration report").click()
    admin.get_by_text(f"Report {calibration.id} is a calibration report.").wait_for()
    expect(admin.get_by_role("table", name="Calibration reports").get_by_role("row", name=re.compile(calibration.external_id)))\
        .to_contain_text("yes")
    admin.get_by_role("spinbutton", name="One calibration report in every N next-report requests (0 = off)").fill("1")
    admin.get_by_role("button", name="Save rate").click()
    expect(admin.get_by_role("spinbutton", name=re.compile("One calibration report"))).to_have_value("1")
    admin.get_by_role("button", name="Start calibration period").click()
    expect(admin.get_by_role("button", name="End calibration period")).to_be_visible()
    expect(admin.get_by_text("No calibration reads yet.")).to_be_visible()

    # Reader 3 is served it unannounced, then a normal report; both read with the keyboard.
    page = login(browser, live_server, "reader3")
    ready(page)
    page.keyboard.press("n")
    page.wait_for_url(f"**/review/{calibration.id}/")
    ready(page)
    served_calibration = page.content()
    _press(page, "o", "c", "m", "1")  # Cardiomegaly positive: 13 of 14 values equal gold
    expect(page.locator("#save-status")).to_have_text("Draft saved")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/review/{normal.id}/")
    expect(page.get_by_text(HONEST)).to_be_visible()
    ready(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: f"/review/{normal.id}/" not in url)
    assert Annotation.objects.get(reader=rdemo["users"]["reader3"], report=calibration).is_calibration

    # Nothing in the page or the API tells the two apart.
    assert "calibrat" not in served_calibration.lower()
    pages = {}
    for report in (calibration, normal):
        page.goto(f"{live_server.url}/review/{report.id}/")
        ready(page)
        pages[report.id] = page.content()
        page.get_by_role("heading", name="Your read").wait_for()
        expect(page.get_by_role("button", name="Change my read (u)")).to_be_visible()
        expect(page.get_by_role("heading", name="Gold labels")).to_have_count(0)
        detail = page.request.get(f"{live_server.url}/api/reports/{report.id}/").json()
        assert (detail["status"], detail["gold"]) == ("in_review", None)
    assert "calibrat" not in pages[calibration.id].lower()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    page.get_by_role("link", name="My reads vs gold").click()
    expect(page.get_by_text("No feedback yet.")).to_be_visible()
    assert page.request.get(f"{live_server.url}/api/calibration/accuracy/").status == 403

    # The period ends: the feedback appears, and the admin sees accuracy per reader and observation.
    admin.get_by_role("button", name="End calibration period").click()
    admin.get_by_text("Calibration period ended").wait_for()
    expect(admin.get_by_role("heading", name=re.compile(r"^reader3: 0\.929 over 1 reads$"))).to_be_visible()
    by_observation = admin.get_by_role("table", name="reader3: accuracy by observation")
    expect(by_observation.get_by_role("row", name=re.compile("^Cardiomegaly"))).to_contain_text("0.000")
    expect(by_observation.get_by_role("row", name=re.compile("^Edema"))).to_contain_text("1.000")
    expect(admin.get_by_role("table", name="reader3: accuracy by hour of session")).to_be_visible()
    admin.screenshot(path=str(_screenshots() / "admin-calibration.png"), full_page=True)
    admin.close()

    page.reload()
    row = page.get_by_role("table", name="My reads vs gold").get_by_role("row", name=re.compile(calibration.external_id))
    expect(row).to_contain_text("Cardiomegaly: positive → blank")
    page.goto(f"{live_server.url}/review/{calibration.id}/")
    page.get_by_role("heading", name="Gold labels").wait_for()
    expect(page.get_by_role("button", name="Change my read (u)")).to_have_count(0)
    page.close()


def _screenshots():  # type: ignore[no-untyped-def]
    from tests.conftest import screenshot_dir

    return screenshot_dir()
