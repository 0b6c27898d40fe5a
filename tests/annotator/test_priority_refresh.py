"""Queue priorities are refreshed once for every process, by the task an import
queues, not by each web process's first `next` (#19: a per-process timer made
every gunicorn worker recompute all reports after an import)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.core.cache import cache

from annotator import services
from annotator.services import assignment
from annotator.tasks import report_priorities_refresh_task
from labeling.models import Report, RuntimeSettings
from labeling.services.prelabel import REPORT_PRIORITIES_REFRESH_TASK, new_reports_prelabel
from labeling.services.report_import import report_import
from tests.annotator.conftest import NORMAL

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


@pytest.fixture
def refreshes(monkeypatch):  # type: ignore[no-untyped-def]
    """Calls of the full refresh, by any path; a fresh shared stamp and lock."""
    calls: list[int] = []
    real = assignment.report_priorities_refresh

    def counted(**kwargs: object) -> int:
        calls.append(1)
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(assignment, "report_priorities_refresh", counted)
    cache.delete_many([assignment.PRIORITY_STAMP_KEY, assignment.PRIORITY_LOCK_KEY])
    monkeypatch.setattr(assignment, "_priorities_checked_until", 0.0)
    yield calls
    cache.delete_many([assignment.PRIORITY_STAMP_KEY, assignment.PRIORITY_LOCK_KEY])


def _another_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # What a second gunicorn worker knows: nothing of its own, only the shared cache.
    monkeypatch.setattr(assignment, "_priorities_checked_until", 0.0)


@pytest.fixture
def disagreement_order(settings_row):  # type: ignore[no-untyped-def]
    settings_row.queue_order = RuntimeSettings.QueueOrder.DISAGREEMENT
    settings_row.save()
    return settings_row


def test_an_import_queues_the_refresh_and_no_web_process_repeats_it(
    tmp_path: Path, disagreement_order, readers, refreshes, monkeypatch, django_capture_on_commit_callbacks  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,Reports\n" + "".join(f"R{n},Small left pleural effusion {n}.\n" for n in range(30)))
    sent: list[str] = []
    monkeypatch.setattr("labeling.services.prelabel.current_app.send_task", lambda name, **kw: sent.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        result = report_import(path=path)
        new_reports_prelabel(report_ids=result.created_ids, inline=True)
    assert REPORT_PRIORITIES_REFRESH_TASK in sent
    report_priorities_refresh_task()  # what the worker runs for that message
    assert len(refreshes) == 1 and Report.objects.filter(priority__isnull=True).count() == 0
    for reader in readers:  # each reader's first `next` in a process of its own
        _another_process(monkeypatch)
        assert services.next_report_assign(reader=reader) is not None
    assert len(refreshes) == 1


def test_new_reports_without_a_task_are_refreshed_by_the_first_next_only(
    disagreement_order, readers, make_reports, refreshes, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    first, *_ = make_reports(3)  # no worker ran: the priorities are missing
    assert services.next_report_assign(reader=readers[0]) == first
    _another_process(monkeypatch)
    assert services.next_report_assign(reader=readers[1]) == first
    assert len(refreshes) == 1


def test_a_stale_stamp_is_checked_by_one_process_not_while_another_refreshes(
    disagreement_order, readers, make_reports, refreshes, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    make_reports(2)
    services.next_report_assign(reader=readers[0])
    assert len(refreshes) == 1
    cache.set(assignment.PRIORITY_STAMP_KEY, 0.0)  # the last check is long ago...
    cache.add(assignment.PRIORITY_LOCK_KEY, 1)  # ... and another process is checking now
    _another_process(monkeypatch)
    assert services.next_report_assign(reader=readers[1]) is not None  # not waiting for it
    assert len(refreshes) == 1
    cache.delete(assignment.PRIORITY_LOCK_KEY)
    _another_process(monkeypatch)
    services.next_report_assign(reader=readers[2])  # due, nobody at it: this process checks
    assert len(refreshes) == 2
    _another_process(monkeypatch)
    services.next_report_assign(reader=readers[0])  # the stamp it left is fresh for all
    assert len(refreshes) == 2


def test_while_another_process_gives_new_reports_priorities_readers_get_older_ones_without_waiting(
    disagreement_order, readers, make_reports, refreshes, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    older, other = make_reports(2)
    services.next_report_assign(reader=readers[0])  # priorities for these two
    assert len(refreshes) == 1
    new = make_reports(2)
    cache.add(assignment.PRIORITY_LOCK_KEY, 1)  # the import's task is computing the new reports' priorities
    _another_process(monkeypatch)
    assert services.next_report_assign(reader=readers[1]) == older
    assert len(refreshes) == 1  # neither refreshed nor waited
    # Only new reports left for this reader: it waits for that refresh and is handed one.
    threading.Timer(0.3, cache.delete, args=[assignment.PRIORITY_LOCK_KEY]).start()
    services.annotation_submit(reader=readers[1], report=older, labels=NORMAL, expected_version=0)
    services.reservation_skip(reader=readers[1], report=other)
    assert services.next_report_assign(reader=readers[1]) in new
    assert len(refreshes) == 2
