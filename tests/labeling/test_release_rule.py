"""The one feedback release rule (`labeling.selectors.annotations_released` and its
per-user forms): when a reader may see the gold of a report they read. Normal
reads: gold, then N more reads or the next day; calibration reads: besides, their
period has ended; drafts and held reports: never."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from annotator import selectors, services
from labeling.models import Annotation, GoldLabel, Report, Reservation
from labeling.selectors import annotations_released, annotations_released_to, report_ids_unreleased_to
from tests.factories import labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

NORMAL = labels(no_finding="positive")
OTHER = labels(edema="positive")


@pytest.fixture
def people(make_user, settings, settings_row):  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = 2
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 24
    return {"a": make_user("ann", "reader"), "b": make_user("bob", "reader"), "c": make_user("cat", "reader"),
            "adj": make_user("adj", "adjudicator"), "boss": make_user("boss", "admin")}


def _read(reader: Any, report: Report, values: dict[str, str] = NORMAL) -> Annotation:
    """`reader` takes `report` (it must be next in their queue) and submits it."""
    if not Reservation.objects.filter(report=report, reader=reader).exists():
        assert services.next_report_assign(reader=reader) == report
    annotation = services.annotation_submit(reader=reader, report=report, labels=values, expected_version=0,
                                            override_warnings=True).annotation
    assert annotation is not None
    return annotation


def _unreleased(user: Any, **kwargs: Any) -> set[int]:
    return set(Report.objects.filter(id__in=report_ids_unreleased_to(user=user, **kwargs)).values_list("id", flat=True))


def test_normal_read_released_after_n_more_reads(people, make_reports) -> None:  # type: ignore[no-untyped-def]
    a, b = people["a"], people["b"]
    report, x, y = make_reports(3)
    mine = _read(a, report)
    _read(b, report)  # agreement: gold at once
    assert GoldLabel.objects.filter(report=report, is_current=True).exists()
    assert not annotations_released_to(user=a).filter(id=mine.id).exists()  # never right after the submit
    assert report.id in _unreleased(a) and report.id in _unreleased(b)
    _read(a, x)
    assert report.id in _unreleased(a)  # one more read: not yet
    _read(a, y)
    assert annotations_released_to(user=a).filter(id=mine.id).exists()  # two more: released
    assert report.id not in _unreleased(a)
    assert {x.id, y.id} <= _unreleased(a)  # those are neither gold nor due
    assert report.id in _unreleased(b)  # bob read nothing since
    assert selectors.gold_feedback_due(reader=a, annotation=mine)
    assert not selectors.gold_feedback_due(reader=b, annotation=mine)  # someone else's read: never


def test_normal_read_released_the_next_day(people, make_reports) -> None:  # type: ignore[no-untyped-def]
    a, b = people["a"], people["b"]
    (report,) = make_reports(1)
    mine = _read(a, report)
    _read(b, report)
    tomorrow = timezone.now() + dt.timedelta(hours=25)
    assert not annotations_released_to(user=a).filter(id=mine.id).exists()
    assert annotations_released_to(user=a, now=tomorrow).filter(id=mine.id).exists()
    assert report.id not in _unreleased(a, now=tomorrow)
    assert annotations_released(now=tomorrow).filter(report=report).count() == 2  # both readers' reads


def test_never_released_without_gold(people, make_reports) -> None:  # type: ignore[no-untyped-def]
    a, b, adj = people["a"], people["b"], people["adj"]
    (report,) = make_reports(1)
    mine = _read(a, report)
    _read(b, report, OTHER)  # disagreement: awaiting adjudication
    assert not GoldLabel.objects.filter(report=report).exists()
    tomorrow = timezone.now() + dt.timedelta(hours=25)
    assert not annotations_released(now=tomorrow).filter(id=mine.id).exists()  # the batch has passed, but no gold
    assert report.id in _unreleased(a, now=tomorrow)
    services.gold_adjudicate(report=report, adjudicator=adj, labels=NORMAL, expected_current_gold_id=None, rationale="bob missed it")
    assert annotations_released(now=tomorrow).filter(id=mine.id).exists()
    assert report.id not in _unreleased(a, now=tomorrow)


def test_drafts_and_reservations_are_unreleased(people, make_reports) -> None:  # type: ignore[no-untyped-def]
    a, b = people["a"], people["b"]
    drafted, untouched = make_reports(2)
    assert services.next_report_assign(reader=a) == drafted
    assert _unreleased(a) == {drafted.id}  # held: hidden although nothing is written yet
    services.annotation_draft_save(reader=a, report=drafted, labels=NORMAL, expected_version=0)
    services.reservations_release_of_reader(reader=a)
    assert _unreleased(a) == {drafted.id}  # the draft stays, and stays hidden
    assert drafted.id in _unreleased(a, now=timezone.now() + dt.timedelta(days=2))  # a draft is never released
    held = services.next_report_assign(reader=b)
    assert held is not None and _unreleased(b) == {held.id}
    services.reservations_release_of_reader(reader=b)
    assert _unreleased(b) == set()  # given back: nothing of it to hide
    assert untouched.id not in _unreleased(a)
    assert _unreleased(people["adj"]) == _unreleased(people["boss"]) == set()  # they read nothing


def test_calibration_read_released_after_the_period_and_the_batch(people, make_reports) -> None:  # type: ignore[no-untyped-def]
    a, b, c, boss = people["a"], people["b"], people["c"], people["boss"]
    gold_report, x, y = make_reports(3)
    _read(a, gold_report)
    _read(b, gold_report)
    services.calibration_report_mark(report=gold_report, admin=boss)
    services.calibration_rate_set(every=1)
    services.calibration_period_start(admin=boss, now=timezone.now() - dt.timedelta(minutes=1))
    assert services.next_report_assign(reader=c) == gold_report
    assert _unreleased(c) == {gold_report.id}  # held calibration report
    assert _unreleased(c, calibration=False) == set()  # not for figures that never count it
    read = _read(c, gold_report)
    assert read.is_calibration
    tomorrow = timezone.now() + dt.timedelta(days=2)
    assert not annotations_released(now=tomorrow).filter(id=read.id).exists()  # period open: not even the next day
    services.calibration_period_end(admin=boss)
    # Period over, but not right after the submit: it looks like a normal read.
    assert not annotations_released().filter(id=read.id).exists()
    assert gold_report.id in _unreleased(c)
    assert selectors.calibration_hidden_report_ids(reader=c) == {gold_report.id}
    assert annotations_released(now=tomorrow).filter(id=read.id).exists()
    services.calibration_rate_set(every=0)
    _read(c, x)
    _read(c, y)
    assert annotations_released().filter(id=read.id).exists()  # two more reads
    assert selectors.calibration_hidden_report_ids(reader=c) == set()
    services.calibration_period_start(admin=boss)  # a later period does not hide it again
    assert annotations_released().filter(id=read.id).exists()


def test_the_rule_is_one_subquery(people, make_reports, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    a, b = people["a"], people["b"]
    (report,) = make_reports(1)
    _read(a, report)
    _read(b, report)
    with django_assert_num_queries(0):  # building the filters loads nothing (no list of ids)
        unreleased = report_ids_unreleased_to(user=a)
        visible = selectors.reader_gold_visible(reader=a)
        hidden = selectors.report_ids_hidden_from(user=a)
    with django_assert_num_queries(1):
        assert list(Report.objects.filter(id__in=unreleased).values_list("id", flat=True)) == [report.id]
    with django_assert_num_queries(1):
        assert not Report.objects.filter(visible).exists()
    with django_assert_num_queries(1):
        assert [r["id"] for r in hidden] == [report.id]
