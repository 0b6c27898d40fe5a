"""A per-request memo for rows a request reads several times and never expects to change under it.

One API request used to read the caller's roles three times (permission check,
view, selectors), the runtime-settings row up to five times and the review
settings twice: each a round trip to the database. Inside a request (the
`chexgold.middleware.RequestMemoMiddleware` opens one) `memoized` computes a
value once; outside one (services called from tasks, commands, tests) it
computes every time, exactly as before.

What may be memoised: reads of rows that the request itself does not write
(singleton settings, the caller's roles). The services that write them call
`memo_forget`, so a request that changes a setting and then reads it sees its
own write. Never memoise per-report state (reservations, annotations, gold):
a read handed out and then shown in the same request must see the reservation
it just made.

Three singleton rows are also shared between requests and web processes
(`shared_memoized`; outside a request they are read every time): the runtime settings, the review settings and the active
model version. Every read request needs them and they change a few times a
year, so each used to cost up to three queries per request (#19: the query
budgets of next / report / submit). They live in Django's default cache (Redis
in production, a file cache on the embedded default: every gunicorn worker and
Celery process sees the same entry), keyed by database so a second install
sharing the Redis never reads the first one's rows. A save or delete of those
models (`shared_row_forget`, wired to post_save / post_delete in the owning
apps, and to the services through `forgets`) drops the entry at once and again
when the transaction commits. A reader that loaded the old row just before a
writer committed can put it back; SHARED_ROW_SECONDS bounds how long that rare
race (and any write that bypasses save(), e.g. a restore) can be seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

from django.core.cache import cache
from django.db import connection, transaction

T = TypeVar("T")
P = ParamSpec("P")

_memo: ContextVar[dict[object, object] | None] = ContextVar("chexgold_request_memo", default=None)


@contextmanager
def request_memo() -> Iterator[None]:
    """A fresh memo for the block (one request); nothing outlives it."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memoized(key: object, compute: Callable[[], T]) -> T:
    """`compute()` once per request for `key`; every time outside a request."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]


SHARED_ROW_SECONDS = 30
SHARED_ROW_KEYS = ("runtime_settings", "review_settings", "active_model")
_MISSING = object()


def _shared_cache_key(key: str) -> str:
    return f"chexgold:shared-row:{connection.settings_dict['NAME']}:{key}"


def _rows_written_here() -> set[str]:
    """Shared keys whose rows the open transaction wrote: until it commits, it reads
    them from the database and never puts its uncommitted rows into the shared cache."""
    conn = transaction.get_connection()  # this thread's connection (`connection` is a proxy shared by all)
    written: set[str] = conn.__dict__.setdefault("chexgold_shared_rows_written", set())
    if not conn.in_atomic_block:
        written.clear()  # committed or rolled back since
    return written


def shared_memoized(key: str, compute: Callable[[], T]) -> T:
    """`compute()` once per request, and at most every SHARED_ROW_SECONDS across
    requests and processes (or until `shared_row_forget(key)`). Only for the
    singleton rows in SHARED_ROW_KEYS. Outside a request (Celery tasks, commands)
    it computes every time, as `memoized` does: a worker on another host may not
    share the web's cache, and a task must never act on a superseded model."""
    assert key in SHARED_ROW_KEYS, key
    if _memo.get() is None:
        return compute()

    def load() -> T:
        if key in _rows_written_here():
            return compute()
        cache_key = _shared_cache_key(key)
        value = cache.get(cache_key, _MISSING)
        if value is _MISSING:
            value = compute()
            cache.set(cache_key, value, SHARED_ROW_SECONDS)
        return value  # type: ignore[return-value]

    return memoized(key, load)


def shared_row_forget(*keys: str) -> None:
    """Drop the shared entries (and this request's memo) for `keys` now and when
    the current transaction commits, so no process reads a row older than the
    write; until then this transaction reads them from the database."""
    shared = [k for k in keys if k in SHARED_ROW_KEYS]
    if not shared:
        return
    cache_keys = [_shared_cache_key(k) for k in shared]
    cache.delete_many(cache_keys)
    memo_forget(*shared)
    written = _rows_written_here()
    if connection.in_atomic_block:
        written.update(shared)
        transaction.on_commit(lambda: cache.delete_many(cache_keys))
    else:
        written.difference_update(shared)


def memo_forget(*keys: object) -> None:
    """Drop `keys` (a write changed what they hold); a key that is a str also drops
    tuple keys starting with it (("roles", user_id) by "roles")."""
    memo = _memo.get()
    if not memo:
        return
    for stored in list(memo):
        if stored in keys or (isinstance(stored, tuple) and stored and stored[0] in keys):
            del memo[stored]


def forgets(*keys: object) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator for a service that writes what `keys` memoise: they are dropped
    when it returns or raises (a refused write may have changed the memoised
    instance before its transaction rolled back)."""

    def decorator(service: Callable[P, T]) -> Callable[P, T]:
        @wraps(service)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return service(*args, **kwargs)
            finally:
                memo_forget(*keys)
                shared_row_forget(*(k for k in keys if isinstance(k, str)))

        return wrapped

    return decorator
