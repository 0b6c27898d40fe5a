"""Optimistic concurrency for API writes.

A write names the version the client last saw, either as `If-Match: "<v>"`
(the ETag of the GET) or as a `version` field in the body. A stale version is
refused by the service inside its transaction, so nothing is lost:
  - If-Match stale          -> 412 Precondition Failed
  - body `version` stale    -> 409 Conflict
  - neither                 -> 428 Precondition Required
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import VersionConflict
from api.exceptions import Conflict, PreconditionFailed, PreconditionRequired

T = TypeVar("T")
_ETAG = re.compile(r'^\s*(?:W/)?"?([^"\s,]*)"?\s*$')


@dataclass(frozen=True)
class ExpectedVersion:
    value: int
    from_header: bool


def etag(version: int | str) -> str:
    return f'"{version}"'


def expected_version(request: Request, *, field: str = "version") -> ExpectedVersion:
    """The client's version from If-Match or the body; 428 when neither is given."""
    header = request.headers.get("If-Match")
    if header is not None:
        match = _ETAG.match(header)
        if not match or not match.group(1).isdigit():
            raise PreconditionFailed(f"If-Match must be an ETag from this API, e.g. {etag(3)}")
        return ExpectedVersion(int(match.group(1)), True)
    data = request.data if isinstance(request.data, dict) else {}
    raw = data.get(field)
    if raw is None or raw == "":
        raise PreconditionRequired()
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Conflict(f"`{field}` must be an integer") from None
    if value < 0:
        raise Conflict(f"`{field}` must not be negative")
    return ExpectedVersion(value, False)


@contextmanager
def stale_as_http(expected: ExpectedVersion) -> Iterator[None]:
    """Turn the services' VersionConflict (StaleVersion, GoldConflict) into 412 (If-Match) or 409 (body)."""
    try:
        yield
    except VersionConflict as exc:
        raise (PreconditionFailed(str(exc)) if expected.from_header else Conflict(str(exc))) from None


def with_etag(response: Response, version: int | str) -> Response:
    response["ETag"] = etag(version)
    return response


def call_with_version(request: Request, write: Callable[[int], T], *, field: str = "version") -> T:
    expected = expected_version(request, field=field)
    with stale_as_http(expected):
        return write(expected.value)


__all__: list[Any] = ["ExpectedVersion", "call_with_version", "etag", "expected_version", "stale_as_http", "with_etag"]
