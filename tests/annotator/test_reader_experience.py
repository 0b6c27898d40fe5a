"""Reader experience (issue #17): an honest submit that says nothing about gold,
feedback against gold only in batches, a rationale when gold overrides every reader."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotator import selectors, services
from labeling.models import Annotation, GoldLabel, Reservation
from tests.annotator.conftest import NORMAL
from tests.factories import labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def read(reader, report, values=NORMAL):  # type: ignore[no-untyped-def]
    if not Reservation.objects.filter(report=report, reader=reader).exists():
        services.next_report_assign(reader=reader)
    return services.annotation_submit(reader=reader, report=report, labels=values, expected_version=0)


def _form(values: dict[str, str]) -> dict[str, str]:
    from labeling.observations import OBSERVATIONS

    return {f"obs-{o.slug}": values[o.value] for o in OBSERVATIONS} | {"version": "0"}


# --- honest submit ------------------------------------------------------------------------
@pytest.mark.parametrize("second_agrees", [True, False])
def test_second_readers_submit_page_says_only_saved(settings_row, readers, make_reports, second_agrees):
    (report,) = make_reports(1)
    read(readers[0], report, NORMAL)
    services.next_report_assign(reader=readers[1])
    client = Client()
    client.force_login(readers[1])
    values = NORMAL if second_agrees else labels(edema="positive")
    resp = client.post(f"/review/{report.id}/submit", _form(values) | {"override": "1"}, follow=True)
    page = resp.content.decode()
    assert GoldLabel.objects.filter(report=report).exists() is second_agrees
    assert "your read is saved" in page
    assert "agreed" not in page.lower() and "gold now" not in page.lower()


@pytest.mark.parametrize("second_agrees", [True, False])
def test_api_submit_and_report_detail_do_not_reveal_agreement(settings_row, readers, make_reports, second_agrees):
    (report,) = make_reports(1)
    read(readers[0], report, NORMAL)
    api = APIClient()
    api.force_authenticate(readers[1])
    assert api.post("/api/reports/next/").json()["id"] == report.id
    created = api.post("/api/annotations/", {"report": report.id, "labels": NORMAL}, format="json").json()
    values = NORMAL if second_agrees else labels(edema="positive")
    sub = api.post(f"/api/annotations/{created['id']}/submit/", {"labels": values, "override_warnings": True, "version": 1},
                   format="json")
    assert sub.status_code == 200, sub.content
    body = sub.json()
    assert "became_gold" not in body and "gold" not in body
    assert api.get(f"/api/reports/{report.id}/").json()["gold"] is None  # either way: nothing to tell them apart


# --- the batching rule --------------------------------------------------------------------------
def test_feedback_waits_for_n_more_reads_or_the_next_day(settings, settings_row, readers, make_reports):
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 2
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 24
    first, second, third = make_reports(3)
    read(readers[0], first)
    read(readers[1], first)  # agreement: gold at once
    assert GoldLabel.objects.filter(report=first, is_current=True).exists()
    # right after the submit, neither reader learns anything
    for reader in readers[:2]:
        assert selectors.gold_feedback_for_reader(reader=reader, report=first) is None
    read(readers[1], second)
    assert selectors.gold_feedback_for_reader(reader=readers[1], report=first) is None  # one more read: not yet
    read(readers[1], third)
    assert selectors.gold_feedback_for_reader(reader=readers[1], report=first) is not None  # two more: due
    # reader 1 read nothing since: due only the next day
    assert selectors.gold_feedback_for_reader(reader=readers[0], report=first) is None
    tomorrow = timezone.now() + dt.timedelta(hours=25)
    assert selectors.gold_feedback_for_reader(reader=readers[0], report=first, now=tomorrow) is not None


def test_feedback_never_for_someone_elses_or_unsubmitted_read(settings, settings_row, readers, make_reports):
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0
    (report,) = make_reports(1)
    read(readers[0], report)
    read(readers[1], report)
    other = Annotation.objects.get(report=report, reader=readers[0])
    assert not selectors.gold_feedback_due(reader=readers[1], annotation=other)
    assert selectors.gold_feedback_for_reader(reader=readers[2], report=report) is None  # never read it


# --- adjudication rationale -----------------------------------------------------------------------
def test_rationale_required_only_when_overriding_every_reader(settings_row, readers, adjudicator, make_reports):
    a, b = make_reports(2)
    for report in (a, b):
        read(readers[0], report, labels(no_finding="positive"))
        read(readers[1], report, labels(edema="positive"))
    # siding with one reader on every row: no rationale needed
    gold = services.gold_adjudicate(report=a, adjudicator=adjudicator, labels=labels(edema="positive"), expected_current_gold_id=None)
    assert gold.rationale == ""
    # "uncertain" on Edema overrides both readers: refused without a rationale, nothing written
    with pytest.raises(services.ReviewError, match="Edema"):
        services.gold_adjudicate(report=b, adjudicator=adjudicator, labels=labels(edema="uncertain"), rationale="  ",
                                 expected_current_gold_id=None)
    assert not GoldLabel.objects.filter(report=b).exists()
    gold = services.gold_adjudicate(report=b, adjudicator=adjudicator, labels=labels(edema="uncertain"),
                                    rationale="Edema hedged.", expected_current_gold_id=None)
    assert gold.rationale == "Edema hedged."


def test_api_rationale_required_is_a_400_problem(settings_row, readers, adjudicator, make_reports):
    (report,) = make_reports(1)
    read(readers[0], report, labels(no_finding="positive"))
    read(readers[1], report, labels(edema="positive"))
    api = APIClient()
    api.force_authenticate(adjudicator)
    refused = api.post(f"/api/adjudication/{report.id}/", {"labels": labels(edema="uncertain"), "version": 0}, format="json")
    assert refused.status_code == 400
    assert refused["Content-Type"].startswith("application/problem+json") and "rationale" in refused.json()["detail"]
    ok = api.post(f"/api/adjudication/{report.id}/", {"labels": labels(edema="uncertain"), "rationale": "Hedged.", "version": 0},
                  format="json")
    assert ok.status_code == 200, ok.content
    assert GoldLabel.objects.get(report=report, is_current=True).rationale == "Hedged."


# --- undo: reopen a submitted read until it is used ------------------------------------------------
def test_reopen_change_and_resubmit_keeps_history(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    first = read(readers[0], report, labels(edema="positive")).annotation
    reopened = services.annotation_reopen(reader=readers[0], report=report, expected_version=first.version)
    assert reopened.status == Annotation.Status.DRAFT and reopened.submitted_at is None
    assert Reservation.objects.filter(report=report, reader=readers[0], state=Reservation.State.ACTIVE).exists()
    again = services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=reopened.version)
    assert again.submitted and again.annotation.labels == NORMAL
    submitted_before = [h.labels for h in again.annotation.history.filter(status="submitted").order_by("history_date")]
    assert submitted_before[0] == labels(edema="positive") and submitted_before[-1] == NORMAL  # nothing overwritten


def test_reopen_refused_once_used_or_stale_or_not_submitted(settings_row, readers, adjudicator, make_reports):
    a, b = make_reports(2)
    read(readers[0], a)
    services.next_report_assign(reader=readers[0])  # b: reserved, not submitted
    with pytest.raises(services.ReviewError, match="Only a submitted"):
        services.annotation_reopen(reader=readers[0], report=b, expected_version=0)
    mine = Annotation.objects.get(report=a, reader=readers[0])
    with pytest.raises(services.StaleVersion):
        services.annotation_reopen(reader=readers[0], report=a, expected_version=mine.version + 5)
    read(readers[1], a, labels(edema="positive"))  # k reads: sent to adjudication
    with pytest.raises(services.ReadUsed):
        services.annotation_reopen(reader=readers[0], report=a, expected_version=mine.version)
    services.gold_adjudicate(report=a, adjudicator=adjudicator, labels=NORMAL, rationale="normal", expected_current_gold_id=None)
    with pytest.raises(services.ReadUsed):
        services.annotation_reopen(reader=readers[1], report=a,
                                   expected_version=Annotation.objects.get(report=a, reader=readers[1]).version)


def test_api_reopen_then_409_problem_once_used(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    first = read(readers[0], report).annotation
    api = APIClient()
    api.force_authenticate(readers[0])
    ok = api.post(f"/api/annotations/{first.id}/reopen/", {}, format="json", HTTP_IF_MATCH=f'"{first.version}"')
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "draft" and ok["ETag"] == f'"{first.version + 1}"'
    sub = api.post(f"/api/annotations/{first.id}/submit/", {"labels": NORMAL, "version": first.version + 1}, format="json")
    assert sub.status_code == 200, sub.content
    read(readers[1], report)  # gold by agreement: used
    used = api.post(f"/api/annotations/{first.id}/reopen/", {"version": sub.json()["version"]}, format="json")
    assert used.status_code == 409 and used.json()["code"] == "read_used"
    # another reader's annotation: 404, never 409
    other = APIClient()
    other.force_authenticate(readers[2])
    assert other.post(f"/api/annotations/{first.id}/reopen/", {"version": 1}, format="json").status_code == 404


def test_page_offers_change_until_used(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    read(readers[0], report)
    client = Client()
    client.force_login(readers[0])
    page = client.get(f"/review/{report.id}/").content.decode()
    assert "Change my read (u)" in page
    version = Annotation.objects.get(report=report, reader=readers[0]).version
    resp = client.post(f"/review/{report.id}/reopen", {"version": str(version)}, follow=True)
    assert "Reopened" in resp.content.decode()
    assert Annotation.objects.get(report=report, reader=readers[0]).status == Annotation.Status.DRAFT
    client.post(f"/review/{report.id}/submit", _form(NORMAL) | {"version": str(version + 1), "override": "1"})
    read(readers[1], report)
    page = client.get(f"/review/{report.id}/").content.decode()
    assert "Change my read" not in page
    refused = client.post(f"/review/{report.id}/reopen", {"version": str(version + 2)})
    assert refused.status_code == 409


@pytest.mark.parametrize("second_agrees", [True, False])
def test_queue_page_and_report_list_hide_gold_until_feedback_is_due(settings, settings_row, readers, make_reports,
                                                                    second_agrees):
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 1
    first, second = make_reports(2)
    read(readers[0], first)
    read(readers[1], first, NORMAL if second_agrees else labels(edema="positive"))
    client = Client()
    client.force_login(readers[1])
    api = APIClient()
    api.force_authenticate(readers[1])
    assert "Gold — see feedback" not in client.get("/queue/").content.decode()
    statuses = {r["id"]: r["status"] for r in api.get("/api/reports/").json()["results"]}
    assert statuses[first.id] == "in_review"  # the same whether or not reader 1 agreed
    assert api.get("/api/reports/?status=gold").json()["results"] == []
    read(readers[1], second)  # one more read: feedback on the first is due
    assert ("Gold — see feedback" in client.get("/queue/").content.decode()) is second_agrees
    statuses = {r["id"]: r["status"] for r in api.get("/api/reports/").json()["results"]}
    assert (statuses[first.id] == "gold") is second_agrees


# --- progress ------------------------------------------------------------------------------------------
def test_reader_progress_counts_and_median(settings_row, readers, make_reports):
    r1, r2, r3, r4 = make_reports(4)
    for report, seconds in ((r1, 10.0), (r2, 30.0), (r3, 20.0)):
        services.next_report_assign(reader=readers[0])
        services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0, time_spent_seconds=seconds)
    Annotation.objects.filter(report=r1).update(submitted_at=timezone.now() - dt.timedelta(days=8))  # last week
    progress = selectors.reader_progress(reader=readers[0])
    assert progress.median_seconds == 20.0
    assert progress.this_week >= progress.today >= 1 and progress.this_week <= 2
    assert progress.awaiting_reads == 4  # k = 2: every report still needs a read
    given = services.next_report_assign(reader=readers[1])
    services.annotation_submit(reader=readers[1], report=given, labels=NORMAL, expected_version=0)  # agreement: gold
    assert selectors.reader_progress(reader=readers[0]).awaiting_reads == 3
    assert selectors.reader_progress(reader=readers[2]).median_seconds is None
    api = APIClient()
    api.force_authenticate(readers[0])
    body = api.get("/api/progress/").json()
    assert body["median_seconds"] == 20.0 and body["awaiting_reads"] == 3
    client = Client()
    client.force_login(readers[0])
    page = client.get("/queue/").content.decode()
    assert "My median time per report" in page and "20 s" in page


# --- my reads vs gold, gold history ------------------------------------------------------------------
def test_my_reads_vs_gold_in_batches_with_rationale(settings, settings_row, readers, adjudicator, make_reports):
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 1
    first, second = make_reports(2)
    read(readers[0], first, labels(no_finding="positive"))
    read(readers[1], first, labels(edema="positive"))
    services.gold_adjudicate(report=first, adjudicator=adjudicator, labels=labels(edema="uncertain"), rationale="Edema hedged.",
                             expected_current_gold_id=None)
    client = Client()
    client.force_login(readers[1])
    assert "Edema hedged." not in client.get("/my-reads-vs-gold/").content.decode()  # not yet due
    read(readers[1], second)
    page = client.get("/my-reads-vs-gold/").content.decode()
    assert "Edema hedged." in page and "Edema: positive → uncertain" in page
    assert "No Finding: positive" not in page  # reader 1's values are nowhere
    rows = selectors.reader_reads_vs_gold(reader=readers[1])
    assert [r.report_id for r in rows] == [first.id] and rows[0].differences == [("Edema", "positive", "uncertain")]
    assert "Edema hedged." in client.get(f"/review/{first.id}/").content.decode()  # on the review page's gold card too


def test_gold_history_with_rationale_for_adjudicators(settings_row, readers, adjudicator, make_reports):
    (report,) = make_reports(1)
    read(readers[0], report, labels(no_finding="positive"))
    read(readers[1], report, labels(edema="positive"))
    gold = services.gold_adjudicate(report=report, adjudicator=adjudicator, labels=labels(edema="uncertain"),
                                    rationale="Edema hedged.", expected_current_gold_id=None)
    api = APIClient()
    api.force_authenticate(adjudicator)
    history = api.get(f"/api/adjudication/{report.id}/").json()["history"]
    assert [(h["id"], h["rationale"], h["adjudicator"]) for h in history] == [(gold.id, "Edema hedged.", adjudicator.username)]
    client = Client()
    client.force_login(adjudicator)
    page = client.get(f"/adjudicate/{report.id}/").content.decode()
    assert "Gold history" in page and "Edema hedged." in page


# --- per-reader sensitivity/specificity against gold: the reader, adjudicators, admins only ----------------
@pytest.mark.parametrize("role", ["reader_self", "other_reader", "adjudicator", "admin"])
def test_reader_scores_against_gold_visible_by_role(settings, settings_row, readers, adjudicator, make_reports, make_user, role):
    from quality.statistics import statistics_cache_clear

    statistics_cache_clear()
    # Feedback due at once: a reader's figures leave out their reads until released (tests/quality/test_statistics_release.py).
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0
    for report in make_reports(2):
        read(readers[0], report, labels(edema="positive"))
        read(readers[1], report, labels(edema="positive"))  # gold by agreement
    viewer = {"reader_self": readers[0], "other_reader": readers[2], "adjudicator": adjudicator,
              "admin": make_user("boss", "admin")}[role]
    api = APIClient()
    api.force_authenticate(viewer)
    from tests.statistics_helpers import statistics_ready

    statistics_ready(viewer)
    body = api.get("/api/statistics/").json()
    rows = {r["reader"]: r for r in body["readers"]}
    if role == "reader_self":
        assert set(rows) == {"reader1"} and "sensitivity" in str(rows["reader1"])
    elif role == "other_reader":
        assert rows == {}  # never another reader's figures
    else:
        assert set(rows) == {"reader1", "reader2"}
    statistics_cache_clear()
