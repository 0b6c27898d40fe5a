"""Privacy pages: the report-access audit (admins) and the session keep-alive.
Thin: parse, call a selector or service, render."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import role_required
from accounts.roles import Role
from privacy.selectors import AccessFilter, report_access_channels, report_accesses_filter, report_accesses_iter
from privacy.services.sessions import session_activity_mark
from privacy.session_hygiene import idle_seconds_limit, session_seconds_left

PAGE_SIZE = 100
CSV_HEADER = ["at", "user_id", "username", "channel", "method", "path", "ip", "report_count", "report_ids"]


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filter_from(request: HttpRequest) -> AccessFilter:
    q = request.GET
    return AccessFilter(user=q.get("user", ""), report=q.get("report", ""), date_from=_date(q.get("from")),
                        date_to=_date(q.get("to")), channel=q.get("channel", ""))


@require_GET
@role_required(Role.ADMIN)
def access_log(request: HttpRequest) -> HttpResponse:
    f = _filter_from(request)
    page = Paginator(report_accesses_filter(f=f), PAGE_SIZE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(request, "labeling/access_log.html", {
        # A parsed query string has no empty value lists, so every value is a str.
        "page": page, "f": f, "channels": report_access_channels(), "query": urlencode(query),  # type: ignore[arg-type]
    })


@require_GET
@role_required(Role.ADMIN)
def access_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    f = _filter_from(request)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        for r in report_accesses_iter(f=f):
            writer.writerow([r.at.isoformat(), r.user_id or "", r.username, r.channel, r.method, r.path, r.ip or "",
                             r.report_count, r.report_ids])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="report-access-audit.csv"'
    return response


@require_http_methods(["GET", "POST"])
def keepalive(request: HttpRequest) -> JsonResponse:
    """POST ("Stay signed in"): counts as activity; answers the idle limit.
    GET (sent as a background request, so not activity): seconds left."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Not signed in.", "code": "not_authenticated"}, status=401)
    if request.method == "POST":
        session_activity_mark(session=request.session)
    return JsonResponse({"idle_seconds": int(idle_seconds_limit()), "remaining_seconds": session_seconds_left(session=request.session)})
