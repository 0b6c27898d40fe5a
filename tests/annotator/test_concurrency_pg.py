"""Concurrent assignment and adjudication on PostgreSQL (threads, one connection each).

Run in the PostgreSQL pass of ./run-tests.sh (marked `pg`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import cast

import pytest
from django.db import connection

from annotator import services
from labeling.models import GoldLabel, Report, Reservation, RuntimeSettings
from labeling.selectors import runtime_settings_get
from tests.factories import ReportFactory, labels

pytestmark = [pytest.mark.pg, pytest.mark.django_db(transaction=True)]


def run_concurrently(fns: list[Callable[[], object]]) -> list[object]:
    """Start all functions at once (barrier), each thread on its own connection."""
    barrier = threading.Barrier(len(fns))
    results: list[object] = [None] * len(fns)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def setup_k(make_user):  # type: ignore[no-untyped-def]
    def make(k: int, n_reports: int, n_readers: int) -> tuple[list, list]:
        row = runtime_settings_get()
        row.reads_per_report, row.queue_order = k, RuntimeSettings.QueueOrder.SEQUENTIAL
        row.save()
        readers = [make_user(f"r{i}", "reader") for i in range(n_readers)]
        return ReportFactory.create_batch(n_reports), readers

    return make


def test_concurrent_readers_never_exceed_k(setup_k) -> None:
    assert connection.vendor == "postgresql"
    reports, readers = setup_k(2, 5, 12)
    results = run_concurrently([partial(services.next_report_assign, reader=r) for r in readers])
    assert not [x for x in results if isinstance(x, Exception)], results
    per_report: dict[int, int] = {}
    for res in Reservation.objects.all():
        per_report[res.report_id] = per_report.get(res.report_id, 0) + 1
    assert max(per_report.values()) <= 2
    assert sum(per_report.values()) == 10  # 5 reports x k=2: all slots used, 2 readers get nothing
    assert sum(1 for x in results if x is None) == 2


def test_concurrent_requests_of_one_reader_do_not_double_book(setup_k) -> None:
    reports, (reader,) = setup_k(2, 3, 1)
    results = run_concurrently([lambda: services.next_report_assign(reader=reader) for _ in range(6)])
    assert not [x for x in results if isinstance(x, Exception)], results
    # One call reserves, the others wait for it and resume the same report.
    assert Reservation.objects.filter(reader=reader).count() == 1
    assert {cast(Report, x).id for x in results} == {reports[0].id}


def test_two_adjudicators_resolving_concurrently_one_gets_a_conflict(setup_k, make_user) -> None:
    (report,), readers = setup_k(2, 1, 2)
    for reader, values in zip(readers, (labels(no_finding="positive"), labels(edema="positive")), strict=True):
        services.next_report_assign(reader=reader)
        services.annotation_submit(reader=reader, report=report, labels=values, expected_version=0)
    adjudicators = [make_user(f"adj{i}", "adjudicator") for i in range(2)]
    results = run_concurrently(
        [
            partial(services.gold_adjudicate, report=report, adjudicator=a, labels=labels(edema="positive"), expected_current_gold_id=None)
            for a in adjudicators
        ]
    )
    assert sum(isinstance(x, GoldLabel) for x in results) == 1
    assert sum(isinstance(x, services.GoldConflict) for x in results) == 1
    assert GoldLabel.objects.filter(report=report).count() == 1
