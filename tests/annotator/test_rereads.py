"""Deliberate re-reads for intra-reader reliability: off by default, independent of
the first read, stored apart, and measured per reader (each reader sees only their own)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.urls import reverse
from django.utils import timezone

from annotator import selectors, services
from annotator.models import Reread
from labeling.models import Annotation
from tests.annotator.conftest import NORMAL
from tests.factories import labels

pytestmark = pytest.mark.django_db


class AlwaysReread(random.Random):
    def random(self) -> float:
        return 0.0


@pytest.fixture
def old_read(settings_row, readers, make_reports):  # type: ignore[no-untyped-def]
    """readers[0] submitted a read of one report two days ago."""
    (report,) = make_reports(1)
    services.next_report_assign(reader=readers[0])
    services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    Annotation.objects.filter(report=report).update(submitted_at=timezone.now() - dt.timedelta(days=2))
    return report


def _enable(percent: int = 100) -> None:
    review = selectors.review_settings_get()
    review.allow_rereads, review.reread_percent = True, percent
    review.save()


def test_off_by_default_and_never_the_same_report_twice(old_read, readers) -> None:
    assert services.reread_next_assign(reader=readers[0], rng=AlwaysReread()) is None
    assert old_read not in selectors.assignable_reports(reader=readers[0])


def test_a_reread_is_handed_out_stored_apart_and_keeps_the_first_read(old_read, readers) -> None:
    _enable()
    assert services.reread_next_assign(reader=readers[0], rng=AlwaysReread()) == old_read
    assert services.reread_next_assign(reader=readers[1], rng=AlwaysReread()) is None  # never someone else's read
    second = labels(no_finding="blank", cardiomegaly="positive")
    services.reread_submit(reader=readers[0], report=old_read, labels=second, time_spent_seconds=12)
    first = Annotation.objects.get(report=old_read, reader=readers[0])
    assert first.labels == NORMAL and Reread.objects.get().labels == second
    with pytest.raises(services.ReviewError):
        services.reread_submit(reader=readers[0], report=old_read, labels=second)
    assert services.reread_next_assign(reader=readers[0], rng=AlwaysReread()) is None  # each report re-read once
    (row,) = selectors.intra_reader_agreement(reader=readers[0])
    assert (row.rereads, row.identical_reports) == (1, 0)
    assert row.observation_agreement == pytest.approx(12 / 14)


def test_recent_reads_wait_a_day(settings_row, readers, make_reports) -> None:
    _enable()
    (report,) = make_reports(1)
    services.next_report_assign(reader=readers[0])
    services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    assert services.reread_next_assign(reader=readers[0], rng=AlwaysReread()) is None


def test_reread_page_hides_the_first_read_and_machine_labels(client, old_read, readers) -> None:  # type: ignore[no-untyped-def]
    _enable()
    client.force_login(readers[0])
    response = client.post(reverse("annotator:queue_next"))
    # The percentage is random per request; a pending re-read would come first.
    Reread.objects.get_or_create(report=old_read, reader=readers[0])
    response = client.post(reverse("annotator:queue_next"))
    assert response.url == reverse("annotator:reread", args=[old_read.id])
    page = client.get(response.url).content.decode()
    assert "Re-read" in page and 'value="positive" checked' not in page and "Rule labeler" not in page
    form = {f"obs-{name.lower().replace(' ', '_')}": "blank" for name in NORMAL}
    form["obs-no_finding"] = "positive"
    done = client.post(reverse("annotator:reread_submit", args=[old_read.id]), form)
    assert done.status_code == 302 and Reread.objects.get().submitted_at is not None
    assert client.get(reverse("annotator:reread", args=[old_read.id])).status_code == 404
    assert "Re-read consistency" in client.get(reverse("annotator:queue")).content.decode()
    other = readers[1]
    client.force_login(other)
    assert client.get(reverse("annotator:reread", args=[old_read.id])).status_code == 404
