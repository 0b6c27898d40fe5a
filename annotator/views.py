"""Review UI views. Thin: parse input, call a selector or service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from labeling.roles import Role
from labeling.selectors import user_roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(user=request.user)
    return render(request, "home.html", {"roles": sorted(r.value for r in roles), "Role": Role})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
