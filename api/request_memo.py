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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

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

        return wrapped

    return decorator
