"""Calibration reports: gold reports served unannounced to readers who have not
read or adjudicated them; their reads never change gold and never count; readers
get feedback only after the period ends; admins see each reader's accuracy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotator import selectors, services
from labeling.models import Annotation, GoldLabel, Reservation
from labeling.services.exports import gold_label_set_export
from quality.statistics import StatisticsQuery, _read_rows, prefill_acceptance, statistics_for_user
from tests.annotator.conftest import NORMAL
from tests.factories import GoldLabelFactory, labels

pytestmark = pytest.mark.django_db

DISAGREE = labels(no_finding="blank", cardiomegaly="positive")  # 12 of 14 values equal NORMAL


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user("boss", "admin")


@pytest.fixture
def calib(settings_row, readers, admin, make_reports):  # type: ignore[no-untyped-def]
    """Report `gold` made gold by readers 0 and 1 (agreement) and marked for
    calibration; `normal` unread; a period open; rate one in one."""
    gold_report, normal = make_reports(2)
    for reader in readers[:2]:
        assert services.next_report_assign(reader=reader) == gold_report
        services.annotation_submit(reader=reader, report=gold_report, labels=NORMAL, expected_version=0)
    assert GoldLabel.objects.filter(report=gold_report, is_current=True).exists()
    services.calibration_report_mark(report=gold_report, admin=admin)
    services.calibration_rate_set(every=1)
    services.calibration_period_start(admin=admin)
    return gold_report, normal


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.both_backends
def test_served_to_readers_who_did_not_read_or_adjudicate_it(calib, readers, make_user) -> None:
    gold_report, normal = calib
    assert services.next_report_assign(reader=readers[0]) == normal  # read it: normal work
    assert services.next_report_assign(reader=readers[2]) == gold_report
    assert Reservation.objects.get(reader=readers[2], report=gold_report).is_calibration
    # Resumed like any reservation although the report is gold.
    assert services.next_report_assign(reader=readers[2]) == gold_report
    adj_reader = make_user("adjreader", "reader", "adjudicator")
    GoldLabel.objects.filter(report=gold_report).update(adjudicator=adj_reader)
    assert services.next_report_assign(reader=adj_reader) == normal


def test_not_served_without_a_period_or_with_rate_zero(calib, readers, admin) -> None:
    gold_report, normal = calib
    services.calibration_rate_set(every=0)
    assert services.next_report_assign(reader=readers[2]) == normal
    services.reservations_release_of_reader(reader=readers[2])
    services.calibration_rate_set(every=1)
    services.calibration_period_end(admin=admin)
    assert services.next_report_assign(reader=readers[2]) == normal


def test_only_gold_reports_can_be_marked(settings_row, admin, make_reports) -> None:
    (report,) = make_reports(1)
    with pytest.raises(services.ReviewError):
        services.calibration_report_mark(report=report, admin=admin)


@pytest.mark.both_backends
def test_disagreeing_calibration_reads_leave_gold_and_counts_unchanged(calib, readers, adjudicator, make_user) -> None:
    gold_report, normal = calib
    gold_before = GoldLabel.objects.get(report=gold_report, is_current=True)
    linked_before = set(gold_before.annotations.values_list("id", flat=True))
    export_before = "".join(gold_label_set_export(fmt="jsonl"))
    stats_before = statistics_for_user(user=readers[2])
    assert services.next_report_assign(reader=readers[2]) == gold_report
    result = services.annotation_submit(reader=readers[2], report=gold_report, labels=DISAGREE, expected_version=0)
    assert result.submitted and result.gold is None
    read = Annotation.objects.get(reader=readers[2], report=gold_report)
    assert read.is_calibration
    # A second calibration read agreeing with the first (k = 2 reads that agree, both against gold).
    fourth = make_user("reader4", "reader")
    assert services.next_report_assign(reader=fourth) == gold_report
    assert services.annotation_submit(reader=fourth, report=gold_report, labels=DISAGREE, expected_version=0).gold is None
    # Gold: same single current row, same labels, same reads behind it.
    (gold_after,) = GoldLabel.objects.filter(report=gold_report)
    assert gold_after.id == gold_before.id and gold_after.is_current and gold_after.labels == gold_before.labels
    assert set(gold_after.annotations.values_list("id", flat=True)) == linked_before
    # k, adjudication, agreement, acceptance: as if the read did not exist.
    assert selectors.report_read_load(report_id=gold_report.id) == 2
    assert not selectors.reports_awaiting_adjudication().filter(id=gold_report.id).exists()
    assert all(reader_id not in (readers[2].id, fourth.id) for _, reader_id, _ in _read_rows(StatisticsQuery()))
    assert prefill_acceptance(StatisticsQuery())["rows"] == 2 * 14
    assert "".join(gold_label_set_export(fmt="jsonl")) == export_before
    stats_after = statistics_for_user(user=readers[2])
    assert (stats_after["readers"], stats_after["counts"]) == (stats_before["readers"], stats_before["counts"])
    # An adjudicator's later correction links the normal reads only.
    corrected = services.gold_adjudicate(report=gold_report, adjudicator=adjudicator, labels=NORMAL,
                                         expected_current_gold_id=gold_before.id)
    assert set(corrected.annotations.values_list("id", flat=True)) == linked_before


def test_reader_sees_a_calibration_report_like_any_other(calib, readers) -> None:
    gold_report, normal = calib
    client = _api(readers[2])
    calib_next = client.post("/api/reports/next/").json()
    assert calib_next["id"] == gold_report.id
    services.calibration_rate_set(every=0)
    detail_c = client.get(f"/api/reports/{gold_report.id}/").json()
    ann_c = client.post("/api/annotations/", {"report": gold_report.id, "labels": DISAGREE}, format="json").json()
    sub_c = client.post(f"/api/annotations/{ann_c['id']}/submit/", {"labels": DISAGREE, "version": ann_c["version"]},
                        format="json").json()
    normal_next = client.post("/api/reports/next/").json()
    assert normal_next["id"] == normal.id
    detail_n = client.get(f"/api/reports/{normal.id}/").json()
    ann_n = client.post("/api/annotations/", {"report": normal.id, "labels": DISAGREE}, format="json").json()
    sub_n = client.post(f"/api/annotations/{ann_n['id']}/submit/", {"labels": DISAGREE, "version": ann_n["version"]},
                        format="json").json()

    assert calib_next.keys() == normal_next.keys() and calib_next["reread"] == normal_next["reread"] is False
    assert detail_c.keys() == detail_n.keys()
    assert detail_c["status"] == detail_n["status"] == "in_review"
    assert detail_c["gold"] is None and detail_n["gold"] is None
    assert ann_c.keys() == ann_n.keys() and sub_c.keys() == sub_n.keys()
    assert "became_gold" not in sub_c and "became_gold" not in sub_n  # the submit answer never tells
    after_c = client.get(f"/api/reports/{gold_report.id}/").json()
    after_n = client.get(f"/api/reports/{normal.id}/").json()
    assert after_c.keys() == after_n.keys()
    assert (after_c["status"], after_c["gold"]) == (after_n["status"], after_n["gold"]) == ("in_review", None)
    assert after_c["my_annotation"].keys() == after_n["my_annotation"].keys()
    listed = {r["id"]: r for r in client.get("/api/reports/").json()["results"]}
    assert listed[gold_report.id].keys() == listed[normal.id].keys()
    assert listed[gold_report.id]["status"] == listed[normal.id]["status"] == "in_review"
    own = client.get("/api/annotations/").json()["results"]
    assert {a["report"] for a in own} == {gold_report.id, normal.id} and len({frozenset(a) for a in own}) == 1
    assert set(selectors.report_ids_hidden_from(user=readers[2]).values_list("id", flat=True)) == {gold_report.id, normal.id}
    summary = selectors.reader_queue_summary(reader=readers[2])
    assert [r["is_gold"] for r in summary.recent] == [False, False]
    # Calibration endpoints are admins' only.
    assert client.get("/api/calibration/accuracy/").status_code == 403
    assert client.get("/api/calibration/reports/").status_code == 403


def test_review_pages_look_the_same(client, calib, readers) -> None:  # type: ignore[no-untyped-def]
    gold_report, normal = calib
    client.force_login(readers[2])
    assert client.post(reverse("annotator:queue_next")).url == reverse("annotator:review", args=[gold_report.id])
    services.annotation_submit(reader=readers[2], report=gold_report, labels=NORMAL, expected_version=0)
    services.calibration_rate_set(every=0)
    assert client.post(reverse("annotator:queue_next")).url == reverse("annotator:review", args=[normal.id])
    services.annotation_submit(reader=readers[2], report=normal, labels=NORMAL, expected_version=0)
    page_c = client.get(reverse("annotator:review", args=[gold_report.id]))
    page_n = client.get(reverse("annotator:review", args=[normal.id]))
    assert page_c.status_code == page_n.status_code == 200
    assert page_c.context["gold"] is None and page_n.context["gold"] is None
    assert "calibration" not in page_c.content.decode().lower()


def test_feedback_only_after_the_period_ends(calib, readers, admin, settings) -> None:
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # the batch rule holds at once: only the period keeps it back
    gold_report, _ = calib
    services.next_report_assign(reader=readers[2])
    services.annotation_submit(reader=readers[2], report=gold_report, labels=DISAGREE, expected_version=0)
    assert selectors.gold_feedback_for_reader(reader=readers[2], report=gold_report) is None
    services.calibration_period_end(admin=admin)
    gold = selectors.gold_feedback_for_reader(reader=readers[2], report=gold_report)
    assert gold is not None and gold.labels == NORMAL
    detail = _api(readers[2]).get(f"/api/reports/{gold_report.id}/").json()
    assert detail["status"] == "gold" and detail["gold"]["labels"] == NORMAL
    with pytest.raises(services.ReviewError):
        services.calibration_period_end(admin=admin)  # none open


def test_accuracy_per_reader_observation_week_and_session_hour(calib, readers, admin) -> None:
    gold_report, normal = calib
    services.next_report_assign(reader=readers[2])
    services.annotation_submit(reader=readers[2], report=gold_report, labels=DISAGREE, expected_version=0)
    read = Annotation.objects.get(reader=readers[2], report=gold_report)
    (row,) = selectors.calibration_accuracy()
    assert (row.reader, row.reads) == ("reader3", 1)
    assert row.overall.accuracy == pytest.approx(12 / 14)
    assert row.by_observation["Cardiomegaly"].accuracy == 0 and row.by_observation["Edema"].accuracy == 1
    assert list(row.by_session_hour) == [0]
    assert list(row.by_period) == [selectors.calibration_period_open().id]  # type: ignore[union-attr]
    # Fatigue: earlier reads of the same session (gaps under 30 minutes) put it in the session's second hour;
    # another reader's reads and an older session do not count.
    assert read.submitted_at is not None
    for minutes in (25, 50, 75, 200):
        _read_at(readers[2], read.submitted_at - dt.timedelta(minutes=minutes))
    _read_at(readers[0], read.submitted_at - dt.timedelta(minutes=100))
    (row,) = selectors.calibration_accuracy(reader=readers[2])
    assert list(row.by_session_hour) == [1]
    weeks = list(row.by_week)
    assert len(weeks) == 1 and weeks[0].startswith(str(read.submitted_at.isocalendar().year))
    data = _api(admin).get("/api/calibration/accuracy/").json()
    assert data["readers"][0]["accuracy"] == pytest.approx(12 / 14)


def _read_at(reader: Any, at: dt.datetime) -> Annotation:
    from tests.factories import ReportFactory

    return Annotation.objects.create(report=ReportFactory(), reader=reader, labels=NORMAL,
                                     status=Annotation.Status.SUBMITTED, submitted_at=at)


def test_admin_api_and_page(client, settings_row, admin, readers, make_reports) -> None:  # type: ignore[no-untyped-def]
    (report,) = make_reports(1)
    api = _api(admin)
    assert api.post("/api/calibration/reports/", {"report": report.id}, format="json").status_code == 400  # not gold
    GoldLabelFactory(report=report, labels=NORMAL)
    assert api.post("/api/calibration/reports/", {"report": report.id}, format="json").status_code == 201
    assert api.get("/api/calibration/reports/").json()["results"][0]["report"] == report.id
    assert api.patch("/api/calibration/", {"every": 20}, format="json").json() == {"every": 20, "open_period": None}
    assert api.post("/api/calibration/periods/").status_code == 201
    assert api.post("/api/calibration/periods/").status_code == 400  # one open at a time
    assert api.get("/api/calibration/").json()["open_period"] is not None
    assert api.post("/api/calibration/periods/end/").json()["ended_at"] is not None
    assert api.delete(f"/api/calibration/reports/{report.id}/").status_code == 204
    assert selectors.calibration_candidates_for(reader=readers[0]).count() == 0
    client.force_login(admin)
    client.post(reverse("annotator:manage_calibration"), {"action": "mark", "report": report.id})
    client.post(reverse("annotator:manage_calibration"), {"action": "rate", "every": "5"})
    assert selectors.review_settings_get().calibration_every == 5
    page = client.get(reverse("annotator:manage_calibration"))
    assert page.status_code == 200 and "Reader accuracy" in page.content.decode()
    assert selectors.calibration_candidates_for(reader=readers[0]).count() == 1
    client.force_login(readers[0])
    assert client.get(reverse("annotator:manage_calibration")).status_code in (302, 403)


@pytest.mark.both_backends
def test_a_draft_finished_after_the_period_ended_gets_feedback(calib, readers, admin, settings) -> None:
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # the batch rule holds at once: only the period keeps it back
    gold_report, _ = calib
    services.next_report_assign(reader=readers[2])
    draft = services.annotation_draft_save(reader=readers[2], report=gold_report, labels=NORMAL, expected_version=0)
    assert draft.is_calibration
    services.calibration_period_end(admin=admin)  # takes back held calibration reports; the draft stays
    assert not Reservation.objects.filter(reader=readers[2]).exists()
    services.annotation_submit(reader=readers[2], report=gold_report, labels=NORMAL, expected_version=draft.version)
    assert selectors.gold_feedback_for_reader(reader=readers[2], report=gold_report) is not None
    services.calibration_period_start(admin=admin)  # a new period does not hide the earlier read again
    assert selectors.gold_feedback_for_reader(reader=readers[2], report=gold_report) is not None
    assert selectors.calibration_hidden_report_ids(reader=readers[2]) == set()


def test_a_calibration_read_reopens_like_a_first_read_until_the_period_ends(calib, readers, admin, settings) -> None:
    # Its report is gold before it is served: closing the read at once would tell the reader.
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # the batch rule holds at once: only the period keeps it back
    gold_report, _ = calib
    services.next_report_assign(reader=readers[2])
    read = services.annotation_submit(reader=readers[2], report=gold_report, labels=DISAGREE, expected_version=0).annotation
    assert read is not None and read.is_calibration and not selectors.read_is_used(annotation=read)
    reopened = services.annotation_reopen(reader=readers[2], report=gold_report, expected_version=read.version)
    assert Reservation.objects.get(reader=readers[2], report=gold_report).is_calibration  # still takes no place among k
    again = services.annotation_submit(reader=readers[2], report=gold_report, labels=NORMAL, expected_version=reopened.version)
    assert again.annotation is not None and again.annotation.is_calibration and again.gold is None
    assert GoldLabel.objects.filter(report=gold_report).count() == 1
    services.calibration_period_end(admin=admin)
    assert selectors.read_is_used(annotation=again.annotation)
    with pytest.raises(services.ReadUsed):
        services.annotation_reopen(reader=readers[2], report=gold_report, expected_version=again.annotation.version)
