"""Recording every view of report text (the report-access audit).

Every page or endpoint that shows the full text of a report calls
`report_access_record` before the text leaves the server; the test
`tests/privacy/test_audit_coverage.py` walks every URL pattern and fails when a
response shows report text without a new audit row.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from accounts.client_address import client_address
from privacy.models import ReportAccess


def report_ids_compact(ids: Iterable[int]) -> str:
    """Sorted, de-duplicated ids as ranges: [1, 2, 3, 7, 9, 10] -> "1-3,7,9-10"."""
    values = sorted(set(int(i) for i in ids))
    if not values:
        return ""
    parts: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = v
    parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


def report_ids_expand(compact: str) -> list[int]:
    """Inverse of `report_ids_compact`."""
    out: list[int] = []
    for part in filter(None, compact.split(",")):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def report_ids_contain(compact: str, report_id: int) -> bool:
    for part in filter(None, compact.split(",")):
        first, _, last = part.partition("-")
        if int(first) <= report_id <= int(last or first):
            return True
    return False


def report_access_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    report_ids: Iterable[int],
    channel: str | None = None,
    request: HttpRequest | None = None,
) -> ReportAccess:
    """Append one audit row: `user` saw the text of `report_ids` through
    `channel` (default: the request's URL name). Call before the text leaves
    the server; the row is written even when `report_ids` is empty (an empty
    export is still an export)."""
    ids = sorted(set(int(i) for i in report_ids))
    django_request = getattr(request, "_request", request)  # DRF Request -> HttpRequest
    if channel is None:
        match = getattr(django_request, "resolver_match", None)
        channel = match.view_name if match else "unknown"
    authenticated = user is not None and user.is_authenticated
    return ReportAccess.objects.create(
        user_id=user.pk if authenticated else None,  # type: ignore[union-attr]
        username=user.get_username() if authenticated else "",  # type: ignore[union-attr]
        channel=channel[:100],
        method=(django_request.method or "")[:8] if django_request is not None else "",
        path=django_request.get_full_path()[:500] if django_request is not None else "",
        ip=client_address(django_request) if django_request is not None else None,
        report_id=ids[0] if len(ids) == 1 else None,
        report_count=len(ids),
        report_ids=report_ids_compact(ids),
    )

