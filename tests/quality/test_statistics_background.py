"""Statistics are computed in the background (quality.services), never on a
viewer's request: pending answers (202, 503, a self-refreshing page) until the
first refresh, stored figures afterwards (equal to a direct computation), and
a debounced refresh queued on change."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from quality import services
from quality.models import StatisticsSnapshot
from quality.statistics import statistics_cache_clear, statistics_for_user
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, labels
from tests.statistics_helpers import statistics_ready

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]
READ_AT = timezone.now() - dt.timedelta(days=2)
VOLATILE = {"computed_at", "compute_seconds", "from_cache", "stale", "data_stamp", "computed_ts", "age_seconds"}


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    statistics_cache_clear()
    cache.delete("chexgold:statistics:refresh-queued")
    yield
    statistics_cache_clear()


@pytest.fixture
def users(make_user):  # type: ignore[no-untyped-def]
    users = {"ann": make_user("ann", "reader"), "bob": make_user("bob", "reader"), "adj": make_user("adj", "adjudicator")}
    model = ModelVersionFactory(name="m1")
    values = ["positive", "negative", "uncertain", "blank", "positive", "negative"]
    for i, value in enumerate(values):
        report = ReportFactory(gold_split="validation" if i < 3 else "train")
        AnnotationFactory(report=report, reader=users["ann"], labels=labels(pleural_effusion=value), status="submitted",
                          submitted_at=READ_AT)
        AnnotationFactory(report=report, reader=users["bob"], labels=labels(pleural_effusion=values[i - 1]), status="submitted",
                          submitted_at=READ_AT)
        GoldLabelFactory(report=report, labels=labels(pleural_effusion=value))
        RulePredictionFactory(report=report, source_version="1.1", labels=labels(pleural_effusion=values[i - 2]))
        RulePredictionFactory(report=report, source="model", source_version="m1", model_version=model,
                              labels=labels(pleural_effusion=value))
    # ann holds a report still being read: left out of her figures until its gold is released to her.
    AnnotationFactory(report=ReportFactory(), reader=users["ann"], labels=labels(edema="positive"), status="submitted")
    return users


def _strip(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_nothing_computed_yet_answers_pending(client, users) -> None:  # type: ignore[no-untyped-def]
    client.force_login(users["adj"])
    api = client.get("/api/statistics/")
    assert api.status_code == 202 and api["Retry-After"] == str(services.RETRY_AFTER_SECONDS)
    assert api.json()["status"] == "pending"
    csv = client.get(reverse("statistics:table_csv", args=["readers"]))
    assert csv.status_code == 503 and csv["Retry-After"]
    page = client.get(reverse("statistics:dashboard"))
    body = page.content.decode()
    assert page.status_code == 200 and "being computed" in body and 'statistics_pending.js' in body and 'http-equiv="refresh"' not in body
    # A bad query is still the user's error, not "pending".
    assert client.get("/api/statistics/?mapping=bogus").status_code == 400
    statistics_ready()
    answer = client.get("/api/statistics/")
    assert answer.status_code == 200 and answer.json()["computed_at"] and answer.json()["stale"] is False
    page = client.get(reverse("statistics:dashboard")).content.decode()
    assert "Computed at" in page and "s ago" in page


@pytest.mark.parametrize("who", ["ann", "adj"])
def test_stored_figures_equal_a_direct_computation(client, users, who) -> None:  # type: ignore[no-untyped-def]
    """What the API serves from the background refresh is exactly what computing on the request would give,
    for a reader (their own view, unreleased reports left out) and an adjudicator (the shared view)."""
    user = users[who]
    client.force_login(user)
    for query in ({}, {"mapping": "u-ones", "split": "validation"}):
        statistics_ready(user, **query)
        params = {"mapping": query.get("mapping", "full"), "split": query.get("split", "all")}
        served = client.get("/api/statistics/", params).json()
        direct = json.loads(json.dumps(statistics_for_user(user=user, mapping=params["mapping"], split=params["split"]), default=str))
        assert _strip(served) == _strip(direct)
    if who == "ann":
        # Her view is her own (one report hidden), the adjudicator's the shared one.
        assert StatisticsSnapshot.objects.filter(user=user).exists()


def test_data_change_marks_figures_stale_until_the_next_refresh(client, users) -> None:  # type: ignore[no-untyped-def]
    client.force_login(users["adj"])
    statistics_ready(users["adj"])
    before = client.get("/api/statistics/").json()
    report = ReportFactory()
    GoldLabelFactory(report=report, labels=labels(edema="positive"))
    stale = client.get("/api/statistics/").json()
    assert stale["stale"] is True and stale["counts"] == before["counts"]  # served at once, marked stale
    result = services.statistics_refresh()
    assert result.computed >= 1
    fresh = client.get("/api/statistics/").json()
    assert fresh["stale"] is False and fresh["counts"]["gold_reports"] == before["counts"]["gold_reports"] + 1
    # Nothing changed: the next refresh computes nothing.
    assert services.statistics_refresh().computed == 0


def test_a_burst_of_changes_queues_one_refresh(django_capture_on_commit_callbacks, users, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from quality import tasks

    queued: list[dict] = []
    monkeypatch.setattr(tasks.statistics_refresh_task, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(services._REFRESH_SECONDS_KEY)  # no refresh has run yet
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            AnnotationFactory(reader=users["bob"], labels=labels(edema="positive"), status="submitted")
        AnnotationFactory(reader=users["bob"], labels=labels(edema="positive"))  # a draft queues nothing
    assert len(queued) == 1 and queued[0]["countdown"] == services.STATISTICS_REFRESH_DEBOUNCE_SECONDS
    services.statistics_refresh_queued_clear()  # the task starts: the next change queues again
    with django_capture_on_commit_callbacks(execute=True):
        GoldLabelFactory(report=ReportFactory(), labels=labels())
    assert len(queued) == 2


def test_the_refresh_task_runs_one_at_a_time(users) -> None:  # type: ignore[no-untyped-def]
    from quality import tasks

    cache.set(tasks._RUNNING_KEY, 1)
    try:
        assert tasks.statistics_refresh_task() == {"skipped": "another refresh is running"}
    finally:
        cache.delete(tasks._RUNNING_KEY)
    done = tasks.statistics_refresh_task()
    standard = done["standard"]
    assert isinstance(standard, dict) and standard["computed"] >= 1 and cache.get(tasks._RUNNING_KEY) is None


def test_the_next_refresh_waits_nine_times_the_last_ones_duration(  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks, users, monkeypatch
) -> None:
    """A steady stream of reads must not keep a worker recomputing back to back;
    after a quiet spell a change is refreshed after the debounce alone."""
    import time

    from quality import tasks

    queued: list[dict] = []
    monkeypatch.setattr(tasks.statistics_refresh_task, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(services._REFRESH_SECONDS_KEY)
    services.statistics_refresh_queued_clear()
    tasks.statistics_refresh_task()  # records how long it took (well under a second here)
    assert services.statistics_refresh_delay() == services.STATISTICS_REFRESH_DEBOUNCE_SECONDS
    services.statistics_refresh_duration_record(10.0)  # a 10-s refresh that just ended
    with django_capture_on_commit_callbacks(execute=True):
        AnnotationFactory(reader=users["bob"], labels=labels(edema="positive"), status="submitted")
    assert 85 <= queued[-1]["countdown"] <= 90
    services.statistics_refresh_queued_clear()
    # The same refresh, ended two minutes ago: its rest is over.
    services.statistics_refresh_duration_record(10.0, ended=time.time() - 120)
    assert services.statistics_refresh_delay() == services.STATISTICS_REFRESH_DEBOUNCE_SECONDS
    services.statistics_refresh_duration_record(100.0)
    assert services.statistics_refresh_delay() == services.STATISTICS_REFRESH_MAX_DELAY_SECONDS
    cache.delete(services._REFRESH_SECONDS_KEY)
