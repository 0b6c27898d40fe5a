"""Statistics must not leak reads (issue #14): a user who diffs every figure they
are shown (API JSON, page, CSV downloads) before and after one report they read
changes (a second read makes it gold by agreement, or sends it to adjudication,
then it is adjudicated) learns nothing until that report's gold is released to
them (`labeling.selectors.report_ids_unreleased_to`); once released, the figures
include it. Adjudicators and admins who do not read see every change at once, as
the rule allows them to."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotator import services
from labeling.models import GoldLabel, Report, Reservation
from quality.statistics import statistics_cache_clear
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, labels
from tests.statistics_helpers import statistics_ready

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

EFF = "Pleural Effusion"
# Baseline: 6 gold reports read by bob and cat (and the subject, when they read) two days ago.
B = ["positive", "negative", "uncertain", "blank", "positive", "negative"]
C = ["positive", "negative", "positive", "blank", "negative", "negative"]
GOLD = ["positive", "negative", "uncertain", "blank", "positive", "positive"]
RULES = ["positive", "uncertain", "uncertain", "negative", "positive", "blank"]
FIRST = labels(pleural_effusion="positive", edema="uncertain")
DISAGREE = labels(pleural_effusion="negative", cardiomegaly="positive")
SLUGS = ("agreement", "pairs", "readers", "labelers", "labeler-weighted-f1", "labeler-detail", "confusion", "prefill", "trend")
# Metadata of a computation (when, how long, from the cache, which data version), not figures about reads.
VOLATILE = {"computed_at", "compute_seconds", "from_cache", "stale", "data_stamp", "computed_ts", "age_seconds"}

ROLES = {
    "reader": ("reader",),
    "reader+adjudicator": ("reader", "adjudicator"),
    "admin+reader": ("admin", "reader"),
    "adjudicator": ("adjudicator",),
    "admin": ("admin",),
}


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    statistics_cache_clear()
    yield
    statistics_cache_clear()


@pytest.fixture
def world(make_user, settings, settings_row, request):  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 2
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 24
    roles = ROLES[request.param]
    users = {"me": make_user("me", *roles), "bob": make_user("bob", "reader"), "cat": make_user("cat", "reader"),
             "adj": make_user("judge", "adjudicator")}
    long_ago = timezone.now() - dt.timedelta(days=2)
    model = ModelVersionFactory(name="m1")
    for i in range(len(GOLD)):
        report = ReportFactory()
        readers = [("bob", B), ("cat", C)] + ([("me", C)] if "reader" in roles else [])
        for name, values in readers:
            AnnotationFactory(report=report, reader=users[name], status="submitted", submitted_at=long_ago,
                              labels=labels(pleural_effusion=values[i]),
                              prefill={EFF: {"value": RULES[i], "source": "rules"}},
                              prefill_outcome={EFF: "kept" if values[i] == RULES[i] else "changed"})
        GoldLabelFactory(report=report, labels=labels(pleural_effusion=GOLD[i]))
        RulePredictionFactory(report=report, source_version="1.1", labels=labels(pleural_effusion=RULES[i]))
        RulePredictionFactory(report=report, source="model", source_version="m1", model_version=model,
                              labels=labels(pleural_effusion=C[i]))
    # The report that changes, then two more for the subject to read (the batch).
    target, x, y = ReportFactory(), ReportFactory(), ReportFactory()
    for report in (target, x, y):
        RulePredictionFactory(report=report, source_version="1.1", labels=labels(pleural_effusion="positive"))
        RulePredictionFactory(report=report, source="model", source_version="m1", model_version=model,
                              labels=labels(pleural_effusion="negative"))
    users["reads"] = "reader" in roles
    return users, target, (x, y)


def _submit(reader: Any, report: Report, values: dict[str, str]) -> None:
    if not Reservation.objects.filter(report=report, reader=reader).exists():
        assert services.next_report_assign(reader=reader) == report
    services.annotation_submit(reader=reader, report=report, labels=values, expected_version=0, override_warnings=True)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _figures(user: Any) -> dict[str, Any]:
    """Everything `user` is shown: the API's JSON, the page's tables and charts, every CSV download
    (and what `manage.py statistics --as-user` prints for them).
    Fresh figures each time: the background refresh runs first (the page and API serve stored figures)."""
    statistics_cache_clear()
    statistics_ready(user)
    client = Client()
    client.force_login(user)
    api = client.get("/api/statistics/")
    assert api.status_code == 200
    page = client.get(reverse("statistics:dashboard"))
    assert page.status_code == 200
    csvs = {}
    for slug in SLUGS:
        response = client.get(reverse("statistics:table_csv", args=[slug]))
        csvs[slug] = (response.status_code, response.content.decode() if response.status_code == 200 else "")
    out = io.StringIO()
    call_command("statistics", "--as-user", user.username, "--json", stdout=out)
    tables = [(t["table"].slug, t["table"].title, t["table"].caption, t["rows"]) for t in page.context["tables"]]
    return {"api": _strip(api.json()), "page": {"tables": tables, "charts": page.context["chart_data"],
                                                "heatmaps": page.context["heatmaps"]}, "csv": csvs,
            "command": _strip(json.loads(out.getvalue()))}


def _own_reads_on_gold(figures: dict[str, Any]) -> int:
    mine = [r for r in figures["api"]["readers"] if r["reader"] == "me"]
    return mine[0]["n"] if mine else 0


@pytest.mark.parametrize("world", list(ROLES), indirect=True)
@pytest.mark.parametrize("second", ["agrees", "disagrees"])
def test_figures_do_not_move_until_the_reports_gold_is_released(world, second) -> None:  # type: ignore[no-untyped-def]
    users, target, batch = world
    me, bob = users["me"], users["bob"]
    first_reader = me if users["reads"] else users["cat"]
    _submit(first_reader, target, FIRST)
    before = _figures(me)

    # The second read: gold by agreement, or awaiting adjudication and then adjudicated.
    _submit(bob, target, FIRST if second == "agrees" else DISAGREE)
    assert GoldLabel.objects.filter(report=target, is_current=True).exists() is (second == "agrees")
    states = [_figures(me)]
    if second == "disagrees":
        services.gold_adjudicate(report=target, adjudicator=users["adj"], labels=FIRST, rationale="bob missed it",
                                 expected_current_gold_id=None)
        states.append(_figures(me))

    if not users["reads"]:
        # Not involved: nothing is hidden from an adjudicator or admin, who see the change at once.
        assert all(state != before for state in states)
        assert states[-1]["api"]["counts"]["gold_reports"] == before["api"]["counts"]["gold_reports"] + 1
        return
    for state in states:
        for part in ("api", "page", "csv", "command"):
            assert state[part] == before[part], f"{part} moved before the gold was released"

    # The batch: two more reads of the subject's own (not gold, so hidden in turn) release the report's gold.
    for report in batch:
        _submit(me, report, FIRST)
    released = _figures(me)
    assert released["api"]["counts"]["gold_reports"] == before["api"]["counts"]["gold_reports"] + 1
    assert _own_reads_on_gold(released) == _own_reads_on_gold(before) + 1
    assert released["csv"]["readers"] != before["csv"]["readers"]
    assert released["command"] == released["api"]


@pytest.mark.parametrize("world", ["reader"], indirect=True)
def test_a_pure_reader_sees_only_their_own_figures_against_gold(world) -> None:  # type: ignore[no-untyped-def]
    users, _, _ = world
    figures = _figures(users["me"])["api"]
    assert figures["agreement"] is None and figures["pairs"] == [] and figures["prefill"] is None
    assert {r["reader"] for r in figures["readers"]} == {"me"}
    assert set(figures["counts"]) == {"gold_reports", "labelers"}
    assert figures["labelers"]  # the labelers against gold stay visible
