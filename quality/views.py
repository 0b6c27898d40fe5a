"""Statistics dashboard and CSV export: parse the query, read the stored figures, render (never compute)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.text import slugify

from accounts.access import role_required
from accounts.roles import Role
from quality.services import RETRY_AFTER_SECONDS, statistics_stored_for_user
from quality.statistics import (
    CURRENT_GOLD,
    StatisticsQueryInvalid,
    statistics_choices,
    statistics_tables,
    table_csv,
    table_display_rows,
)

ANY_ROLE = (Role.READER, Role.ADJUDICATOR, Role.ADMIN)


def _query(request: HttpRequest) -> dict[str, str]:
    return {
        "mapping": request.GET.get("mapping", "full"),
        "gold_version": request.GET.get("gold", CURRENT_GOLD),
        "split": request.GET.get("split", "all"),
    }


@role_required(*ANY_ROLE)
def statistics_dashboard(request: HttpRequest) -> HttpResponse:
    query = _query(request)
    try:
        stats = statistics_stored_for_user(user=request.user, **query)
    except StatisticsQueryInvalid as exc:
        return HttpResponseBadRequest(str(exc))
    if stats is None:  # never computed for this view yet: the page reloads itself until it is
        return render(request, "quality/statistics_pending.html", {
            "query": query, "choices": statistics_choices(), "retry_after": RETRY_AFTER_SECONDS,
        })
    tables = [{"table": t, "rows": table_display_rows(t)} for t in statistics_tables(stats=stats)]
    chart_data = {
        "observations": stats["observations"],
        "agreement": stats["agreement"],
        "labelers": [{"name": lab["name"], "weighted_f1": [o["weighted_f1"] for o in lab["observations"]]}
                     for lab in stats["labelers"]],
        "trend": stats["trend"],
    }
    categories = stats["mapping"]["categories"]
    heatmaps = [
        {"name": lab["name"], "matrices": [{"observation": o["observation"], "rows": list(zip(categories, o["confusion"], strict=True))}
                                           for o in lab["observations"]]}
        for lab in stats["labelers"]
    ]
    return render(request, "quality/statistics.html", {
        "heatmaps": heatmaps, "categories": categories,
        "stats": stats, "query": query, "choices": statistics_choices(), "tables": tables, "chart_data": chart_data,
        "query_string": request.GET.urlencode(),
    })


@role_required(*ANY_ROLE)
def statistics_table_csv(request: HttpRequest, slug: str) -> HttpResponse:
    query = _query(request)
    try:
        stats = statistics_stored_for_user(user=request.user, **query)
    except StatisticsQueryInvalid as exc:
        return HttpResponseBadRequest(str(exc))
    if stats is None:
        response = HttpResponse("The statistics are being computed; try again shortly.\n", status=503,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    table = next((t for t in statistics_tables(stats=stats) if t.slug == slug), None)
    if table is None:
        raise Http404("no such table")
    name = slugify(f"statistics-{slug}-{query['mapping']}-{query['gold_version']}-{query['split']}")
    response = HttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
