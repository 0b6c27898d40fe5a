"""Statistics without waits: figures are computed in the background and stored
(`quality.models.StatisticsSnapshot`); a viewer's request only reads them.

- ``statistics_refresh()``: compute and store the standard views (the current
  gold set, each split, the page's default mapping, every reader named) and
  every shared view asked for recently; ``statistics_refresh_recent()``: the
  per-user views (a user whose unreleased reports are left out) of users who
  asked recently. Both skip a view whose data stamp and hidden reports have not
  changed since it was stored, so a refresh with nothing new costs ~10 queries.
- ``statistics_refresh_enqueue()``: debounced (one task per
  ``STATISTICS_REFRESH_DEBOUNCE_SECONDS`` however many changes; under a steady
  stream of changes no sooner than nine times the last refresh's duration after
  it ended: ``statistics_refresh_delay``), queued on
  commit; called on every change that moves a figure (signals in
  ``quality.apps``) and when a viewer finds stored figures older than the data.
  Celery beat also refreshes every 300 s.
- ``statistics_stored_for_user()``: what the page, CSV and API serve: the
  stored figures of the user's view, filtered by role
  (``statistics.statistics_visible_to``), or None while none have been
  computed yet for that view. Never computes.

The ``statistics`` command still computes directly (``statistics.statistics_get``).
The release rule holds as before: a user's view is computed without the reports
whose gold is not released to them, and a view computed on another hidden set
than the user's current one is recomputed (served meanwhile: figures the user
was entitled to when they were computed).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from quality.models import StatisticsSnapshot
from quality.statistics import (
    CURRENT_GOLD,
    SPLITS,
    StatisticsQuery,
    statistics_compute,
    statistics_data_stamp,
    statistics_hidden_report_ids_for,
    statistics_read_basis_for,
    statistics_visible_to,
)

logger = logging.getLogger(__name__)

# A burst of submits within this many seconds makes one refresh.
STATISTICS_REFRESH_DEBOUNCE_SECONDS = 5
# Under a steady stream of reads every refresh finds new data. The next one starts no
# sooner than this many times the last one's duration after it ended, so refreshes take
# at most a tenth of a worker's time (measured before: a 50-reader load kept the worker recomputing back to
# back, 0.35 of a core); the page says how old the figures are.
STATISTICS_REFRESH_IDLE_FACTOR = 9
# ... but never longer than beat's own period.
STATISTICS_REFRESH_MAX_DELAY_SECONDS = 300
_REFRESH_QUEUED_KEY = "chexgold:statistics:refresh-queued"
_REFRESH_SECONDS_KEY = "chexgold:statistics:refresh-seconds"
# Views nobody asked for in this long are no longer refreshed (the standard views always are).
RECENT_ASK = dt.timedelta(days=1)
# `asked_at` is written at most this often per view (not on every page view).
ASK_RESOLUTION = dt.timedelta(minutes=1)
# How long a client should wait before asking again for figures being computed.
RETRY_AFTER_SECONDS = 5
# The standard views: what most viewers ask for, always kept fresh.
STANDARD_VIEWS: tuple[tuple[str, str, str, str], ...] = tuple(("full", CURRENT_GOLD, split, "all") for split in SPLITS)


def _view_key(*, mapping: str, gold_version: str, split: str, reads: str, user_id: int | None) -> str:
    return f"{mapping}|{gold_version}|{split}|{reads}|{user_id if user_id is not None else '-'}"


# --------------------------------------------------------------------------- serving


def statistics_stored_for_user(
    *, user: AbstractBaseUser | AnonymousUser, mapping: str = "full", gold_version: str = CURRENT_GOLD, split: str = "all",
) -> dict[str, Any] | None:
    """The stored figures of `user`'s view, filtered for them, with ``computed_at``,
    ``age_seconds`` and ``stale`` (the data changed since; a refresh is queued).
    None while the view has never been computed (a refresh is queued).

    Records that `user` asked (per-user views are refreshed for recent askers).
    Raises StatisticsQueryInvalid for an unknown mapping, split or gold-set version."""
    basis = statistics_read_basis_for(user=user) or "settled"
    StatisticsQuery(mapping=mapping, gold_version=gold_version, split=split, reads=basis)  # validates (400)
    hidden = statistics_hidden_report_ids_for(user=user)
    digest = StatisticsQuery(hidden_report_ids=hidden).hidden_digest
    user_id = getattr(user, "pk", None) if hidden else None
    key = _view_key(mapping=mapping, gold_version=gold_version, split=split, reads=basis, user_id=user_id)
    now = timezone.now()
    row = StatisticsSnapshot.objects.filter(key=key).first()
    if row is None:
        StatisticsSnapshot.objects.bulk_create(
            [StatisticsSnapshot(key=key, mapping=mapping, gold_version=gold_version, split=split, reads=basis, user_id=user_id,
                                asked_at=now)],
            ignore_conflicts=True,
        )
        statistics_refresh_enqueue()
        return None
    if row.asked_at is None or now - row.asked_at > ASK_RESOLUTION:
        StatisticsSnapshot.objects.filter(id=row.id).update(asked_at=now)
    stale = not row.figures_json or row.data_stamp != statistics_data_stamp() or row.hidden_digest != digest
    if stale:
        statistics_refresh_enqueue()
    if not row.figures_json:
        return None
    stats = json.loads(row.figures_json)
    computed_at = row.computed_at or now
    stats.update({"from_cache": True, "stale": stale, "data_stamp": row.data_stamp,
                  "age_seconds": max(0, round((now - computed_at).total_seconds()))})
    return statistics_visible_to(user=user, stats=stats)


# --------------------------------------------------------------------------- refreshing


@dataclass
class RefreshResult:
    views: int = 0  # views looked at
    computed: int = 0  # views whose figures were computed (the others were current)
    seconds: float = 0.0


def _refresh_rows(rows: list[StatisticsSnapshot], *, stamp: str, result: RefreshResult,
                  memo: dict[StatisticsQuery, str]) -> None:
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in={r.user_id for r in rows if r.user_id is not None})}
    for row in rows:
        result.views += 1
        user = users.get(row.user_id) if row.user_id is not None else None
        if row.user_id is not None and user is None:
            continue
        hidden = statistics_hidden_report_ids_for(user=user) if user is not None else frozenset()
        query = StatisticsQuery(mapping=row.mapping, gold_version=row.gold_version, split=row.split, reads=row.reads,
                                hidden_report_ids=hidden)
        if row.figures_json and row.data_stamp == stamp and row.hidden_digest == query.hidden_digest:
            continue  # nothing changed for this view
        figures = memo.get(query)
        if figures is None:
            figures = memo[query] = json.dumps(statistics_compute(query=query))
            result.computed += 1
        StatisticsSnapshot.objects.filter(id=row.id).update(
            figures_json=figures, data_stamp=stamp, hidden_digest=query.hidden_digest, computed_at=timezone.now()
        )


def statistics_refresh(*, now: dt.datetime | None = None) -> RefreshResult:
    """Compute and store the standard views and every shared view asked for in
    the last day, skipping those whose data has not changed. A frozen gold-set
    version that no longer exists drops its views."""
    started = timezone.now()
    now = now or started
    for mapping, gold_version, split, reads in STANDARD_VIEWS:
        key = _view_key(mapping=mapping, gold_version=gold_version, split=split, reads=reads, user_id=None)
        StatisticsSnapshot.objects.get_or_create(key=key, defaults={"mapping": mapping, "gold_version": gold_version,
                                                                    "split": split, "reads": reads})
    standard = [_view_key(mapping=m, gold_version=g, split=s, reads=r, user_id=None) for m, g, s, r in STANDARD_VIEWS]
    rows = list(StatisticsSnapshot.objects.filter(user__isnull=True).filter(key__in=standard)) + list(
        StatisticsSnapshot.objects.filter(user__isnull=True, asked_at__gte=now - RECENT_ASK).exclude(key__in=standard)
    )
    return _refresh(rows, started=started)


def statistics_refresh_recent(*, now: dt.datetime | None = None) -> RefreshResult:
    """Compute and store the per-user views of users who asked in the last day
    (each leaves out that user's unreleased reports), skipping unchanged ones."""
    started = timezone.now()
    rows = list(StatisticsSnapshot.objects.filter(user__isnull=False, asked_at__gte=(now or started) - RECENT_ASK))
    return _refresh(rows, started=started)


def _refresh(rows: list[StatisticsSnapshot], *, started: dt.datetime) -> RefreshResult:
    from quality.statistics import StatisticsQueryInvalid

    result = RefreshResult()
    stamp = statistics_data_stamp()
    memo: dict[StatisticsQuery, str] = {}
    valid = []
    for row in rows:
        try:
            StatisticsQuery(mapping=row.mapping, gold_version=row.gold_version, split=row.split, reads=row.reads)
        except StatisticsQueryInvalid:
            row.delete()  # e.g. a gold-set version since deleted
            continue
        valid.append(row)
    _refresh_rows(valid, stamp=stamp, result=result, memo=memo)
    result.seconds = round((timezone.now() - started).total_seconds(), 3)
    return result


def statistics_refresh_enqueue() -> None:
    """Queue one statistics refresh (after commit) unless one is already queued
    in the last STATISTICS_REFRESH_DEBOUNCE_SECONDS: a burst of changes makes one
    refresh, which runs when the burst is over."""

    def enqueue() -> None:
        delay = statistics_refresh_delay()
        if not cache.add(_REFRESH_QUEUED_KEY, 1, timeout=delay + STATISTICS_REFRESH_DEBOUNCE_SECONDS):
            return
        from quality.tasks import statistics_refresh_task

        try:
            statistics_refresh_task.apply_async(countdown=delay)
        except Exception:  # a broker outage must not fail the write; beat refreshes within 300 s
            logger.exception("could not queue a statistics refresh")

    transaction.on_commit(enqueue)


def statistics_refresh_delay() -> int:
    """Seconds a queued refresh waits: the debounce, and under a steady stream of
    changes until STATISTICS_REFRESH_IDLE_FACTOR times the last refresh's duration
    has passed since it ended (capped at beat's period). After a quiet spell the
    next change is refreshed after the debounce alone."""
    last = cache.get(_REFRESH_SECONDS_KEY)
    if not isinstance(last, dict):
        return STATISTICS_REFRESH_DEBOUNCE_SECONDS
    rest_until = float(last["ended"]) + STATISTICS_REFRESH_IDLE_FACTOR * float(last["seconds"])
    return int(min(STATISTICS_REFRESH_MAX_DELAY_SECONDS, max(STATISTICS_REFRESH_DEBOUNCE_SECONDS, rest_until - time.time())))


def statistics_refresh_duration_record(seconds: float, *, ended: float | None = None) -> None:
    """Called by the refresh task when it is done: spaces out the next one (`statistics_refresh_delay`)."""
    cache.set(_REFRESH_SECONDS_KEY, {"seconds": round(seconds, 3), "ended": time.time() if ended is None else ended},
              timeout=None)


def statistics_refresh_queued_clear() -> None:
    """Called by the refresh task as it starts: changes from now on queue the next one."""
    cache.delete(_REFRESH_QUEUED_KEY)


def statistics_changed(sender: Any, instance: Any = None, **kwargs: Any) -> None:
    """Receiver of saves that move figures (`QualityConfig.ready`): a submitted
    read, gold, gold-set versions, model versions, import batches (imports and
    withdrawals). Drafts and other annotation edits that are not submitted do not count."""
    if sender.__name__ == "Annotation" and getattr(instance, "status", None) != "submitted":
        return
    statistics_refresh_enqueue()
