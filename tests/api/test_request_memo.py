"""The per-request memo (api.request_memo): values read once inside a request,
every time outside one, and dropped by the services that write them."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from accounts.selectors import user_roles
from accounts.services import user_role_add
from annotator.errors import ReviewError
from annotator.selectors import review_settings_get
from annotator.services import review_settings_update
from api.request_memo import memo_forget, memoized, request_memo
from labeling.selectors import runtime_settings_get


def test_memoized_computes_once_inside_and_always_outside() -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert memoized("k", compute) == 1 and memoized("k", compute) == 2  # no request: no memo
    with request_memo():
        assert memoized("k", compute) == 3 and memoized("k", compute) == 3
        memo_forget("k")
        assert memoized("k", compute) == 4
        with request_memo():  # a nested request starts empty
            assert memoized("k", compute) == 5
        assert memoized("k", compute) == 4
    assert memoized("k", compute) == 6


def test_memo_forget_by_prefix() -> None:
    with request_memo():
        memoized(("roles", 1), lambda: "a")
        memoized(("roles", 2), lambda: "b")
        memoized("other", lambda: "c")
        memo_forget("roles")
        assert memoized(("roles", 1), lambda: "new") == "new" and memoized("other", lambda: "x") == "c"


def test_role_change_in_a_request_is_seen_in_it(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("someone", "reader")
    with request_memo():
        assert user_roles(user=user) == {Role.READER}
        user_role_add(user=user, role=Role.ADJUDICATOR)
        assert user_roles(user=user) == {Role.READER, Role.ADJUDICATOR}


def _settings(**overrides: object) -> dict[str, object]:
    runtime = runtime_settings_get()
    review = review_settings_get()
    base: dict[str, object] = {
        "reads_per_report": runtime.reads_per_report, "reservation_minutes": runtime.reservation_minutes,
        "queue_order": runtime.queue_order, "auto_gold": runtime.auto_gold, "prefill": runtime.prefill,
        "allow_rereads": review.allow_rereads, "anonymise_readers": review.anonymise_readers,
    }
    return {**base, **overrides}


def test_settings_written_in_a_request_are_read_back(settings_row) -> None:  # type: ignore[no-untyped-def]
    with request_memo():
        k = runtime_settings_get().reads_per_report
        review_settings_update(**_settings(reads_per_report=k + 1))  # type: ignore[arg-type]
        assert runtime_settings_get().reads_per_report == k + 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_settings_change_leaves_no_trace_in_the_memo(settings_row) -> None:  # type: ignore[no-untyped-def]
    with request_memo():
        k = runtime_settings_get().reads_per_report
        # The runtime row is changed and saved before the pre-fill mode is refused; the rollback undoes the
        # save, and the memo must not keep the changed instance.
        with pytest.raises(ReviewError):
            review_settings_update(**_settings(reads_per_report=k + 5, prefill="bogus"))  # type: ignore[arg-type]
        assert runtime_settings_get().reads_per_report == k


# --- the rows shared between requests and processes (shared_memoized) ----------
def _query_count(read: object) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        read()  # type: ignore[operator]
    return len(ctx.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_shared_rows_are_read_once_across_requests_and_a_change_is_seen_at_once(settings_row) -> None:  # type: ignore[no-untyped-def]
    from labeling.models import RuntimeSettings

    with request_memo():
        runtime_settings_get()
    with request_memo():
        assert _query_count(runtime_settings_get) == 0  # another request: from the shared cache
    assert _query_count(runtime_settings_get) == 1  # outside a request (a task): from the database
    k = runtime_settings_get().reads_per_report
    review_settings_update(**_settings(reads_per_report=k + 1))  # type: ignore[arg-type]
    with request_memo():
        assert runtime_settings_get().reads_per_report == k + 1
    # A save outside the services (the Django admin) is seen at once too.
    row = RuntimeSettings.objects.get(singleton=1)
    row.reads_per_report = k + 2
    row.save()
    with request_memo():
        assert runtime_settings_get().reads_per_report == k + 2


@pytest.mark.django_db(transaction=True)
def test_an_uncommitted_settings_row_never_reaches_other_requests(settings_row) -> None:  # type: ignore[no-untyped-def]
    from django.db import transaction

    k = runtime_settings_get().reads_per_report

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), request_memo(), transaction.atomic():
        row = runtime_settings_get()
        row.reads_per_report = k + 7
        row.save()
        assert runtime_settings_get().reads_per_report == k + 7  # this transaction sees its own write
        raise Abandon
    with request_memo():
        assert runtime_settings_get().reads_per_report == k


@pytest.mark.django_db(transaction=True)
def test_a_new_active_model_is_seen_by_the_next_request() -> None:
    from labeling.models import ModelVersion
    from labeling.selectors import active_model_version_get

    first = ModelVersion.objects.create(name="v1", checkpoint_path="/nowhere/1", is_active=True)
    with request_memo():
        assert active_model_version_get().id == first.id  # type: ignore[union-attr]
    with request_memo():
        assert _query_count(active_model_version_get) == 0
    # What model_version_promote does: row saves, the old version first.
    first.is_active = False
    first.save(update_fields=["is_active"])
    second = ModelVersion.objects.create(name="v2", checkpoint_path="/nowhere/2", is_active=True)
    with request_memo():
        assert active_model_version_get().id == second.id  # type: ignore[union-attr]
