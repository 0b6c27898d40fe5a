"""Statistics dashboard in Debian's Chromium: figures shown equal independently computed ones.

Saves docs/screenshots/statistics*.png (referenced in README).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score, f1_score

from tests.conftest import screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = screenshot_dir()
EFF = "Pleural Effusion"
# Twelve reports read by ann and bob; gold is ann's read except where adjudicated otherwise.
ANN = ["positive", "negative", "uncertain", "blank", "positive", "negative", "negative", "positive", "blank", "negative", "positive", "blank"]
BOB = ["positive", "negative", "positive", "blank", "negative", "negative", "uncertain", "positive", "blank", "blank", "positive", "negative"]
GOLD = ["positive", "negative", "uncertain", "blank", "positive", "negative", "negative", "negative", "blank", "negative", "positive", "blank"]
RULES = ["positive", "uncertain", "uncertain", "negative", "positive", "blank", "negative", "positive", "blank", "negative", "negative", "blank"]


@pytest.fixture
def browser(chromium):  # type: ignore[no-untyped-def]
    return chromium


@pytest.fixture
def labelled(transactional_db, make_user):  # type: ignore[no-untyped-def]
    from quality.statistics import statistics_cache_clear
    from tests.factories import (
        AnnotationFactory,
        GoldLabelFactory,
        ModelVersionFactory,
        ReportFactory,
        RulePredictionFactory,
        labels,
    )

    statistics_cache_clear()
    users = {name: make_user(name, role) for name, role in (("ann", "reader"), ("bob", "reader"), ("adj", "adjudicator"))}
    model = ModelVersionFactory(name="m1")
    for i in range(12):
        report = ReportFactory(gold_split="validation" if i % 3 == 0 else "train")
        for reader, values in (("ann", ANN), ("bob", BOB)):
            # Submitted two days ago: gold released to the reader (feedback batches, labeling.selectors).
            AnnotationFactory(report=report, reader=users[reader], status="submitted", submitted_at=timezone.now() - dt.timedelta(days=2),
                              labels=labels(pleural_effusion=values[i], cardiomegaly="positive" if i % 4 == 0 else "negative"))
        GoldLabelFactory(report=report, method="adjudicated", adjudicator=users["adj"],
                         labels=labels(pleural_effusion=GOLD[i], cardiomegaly="positive" if i % 4 == 0 else "negative"))
        RulePredictionFactory(report=report, source_version="1.1", labels=labels(pleural_effusion=RULES[i]))
        RulePredictionFactory(report=report, source="model", source_version="m1", model_version=model,
                              labels=labels(pleural_effusion=BOB[i], cardiomegaly="positive" if i % 4 == 0 else "negative"))
    from tests.statistics_helpers import statistics_ready

    # The figures the pages show, computed as the background refresh would.
    statistics_ready(users["adj"], mapping="u-ones", split="validation")
    statistics_ready(users["adj"], users["ann"])
    yield users
    statistics_cache_clear()


def login(browser, live_server, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def cell_value(page, table_name: str, row_header: str, column: str) -> float:  # type: ignore[no-untyped-def]
    table = page.get_by_role("table", name=re.compile("^" + re.escape(table_name)))
    headers = table.locator("thead th").all_inner_texts()
    row = table.locator("tbody tr").filter(has=page.get_by_role("rowheader", name=row_header, exact=True)).first
    text = row.locator("th, td").nth(headers.index(column)).inner_text()
    return float(text.split()[0])


def test_dashboard_figures_equal_independent_computation(browser, live_server, labelled) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = login(browser, live_server, "adj")
    page.get_by_role("link", name="Statistics").click()
    page.get_by_role("heading", name="Statistics", level=1).wait_for()

    kappa = cohen_kappa_score(ANN, BOB)
    assert cell_value(page, "Agreement between readers", EFF, "Cohen's κ (mean over pairs)") == pytest.approx(kappa, abs=5e-4)
    pairs = page.get_by_role("table", name=re.compile("^Cohen's κ for each pair"))
    first_row = pairs.locator("tbody tr").first
    assert first_row.locator("th").inner_text() in ("ann", "bob")
    headers = pairs.locator("thead th").all_inner_texts()
    shown = float(first_row.locator("th, td").nth(headers.index(f"κ {EFF}")).inner_text().split()[0])
    assert shown == pytest.approx(kappa, abs=5e-4)

    rules_wf1 = f1_score(GOLD, RULES, labels=["positive", "negative", "uncertain"], average="weighted", zero_division=0)
    assert cell_value(page, "Weighted F1 per observation", EFF, "Rule labeler 1.1") == pytest.approx(rules_wf1, abs=5e-4)
    assert cell_value(page, "Weighted F1 per observation", EFF, "Model m1") == pytest.approx(
        f1_score(GOLD, BOB, labels=["positive", "negative", "uncertain"], average="weighted", zero_division=0), abs=5e-4)

    # Charts carry a text alternative; CSV links exist for every table.
    assert "Pleural Effusion" in (page.locator("#chart-agreement").get_attribute("aria-label") or "")
    assert page.get_by_role("link", name=re.compile("as CSV$")).count() >= 6
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "statistics.png"), full_page=False)
    page.locator("#table-confusion").screenshot(path=str(SCREENSHOTS / "statistics_confusion.png"))

    # Switch to U-Ones on the validation split: the scope line and figures follow.
    page.get_by_label("Labels").select_option("u-ones")
    page.get_by_label("Split").select_option("validation")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"mapping=u-ones"))
    assert "U-Ones" in page.locator("#stats-scope").inner_text()
    ones = {"positive": 1, "uncertain": 1, "negative": 0, "blank": 0}
    idx = [i for i in range(12) if i % 3 == 0]
    expected = cohen_kappa_score([ones[GOLD[i]] for i in idx], [ones[RULES[i]] for i in idx])
    labelers = page.get_by_role("table", name=re.compile("^Precision, recall and F1 per class"))
    headers = labelers.locator("thead th").all_inner_texts()
    row = labelers.locator("tbody tr").filter(has_text="Rule labeler 1.1").filter(has_text=EFF).first
    assert float(row.locator("th, td").nth(headers.index("κ")).inner_text().split()[0]) == pytest.approx(expected, abs=5e-4)
    page.close()


def test_reader_sees_only_own_figures(browser, live_server, labelled) -> None:  # type: ignore[no-untyped-def]
    page = login(browser, live_server, "ann")
    page.goto(f"{live_server.url}/statistics/")
    body = page.locator("main").inner_text()
    assert "Readers against gold" in body and "bob" not in body
    assert page.get_by_role("table", name=re.compile("^Cohen's κ for each pair")).count() == 0
    readers = page.get_by_role("table", name=re.compile("^Readers against gold"))
    assert set(readers.locator("tbody th").all_inner_texts()) == {"ann"}
    readers.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "statistics_reader.png"), full_page=False)
    page.close()
