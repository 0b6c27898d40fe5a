"""Probes and metrics: plain Django views, no sign-in, no DRF (nothing here is
for people). `/healthz` liveness, `/health/` readiness, `/metrics` Prometheus."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView
from health_check.views import HealthCheckView

from operations.metrics import collector_register


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers and reaches its database. Cheap enough for a
    load balancer to call every second."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


CHECK_NAMES = {"Database": "database", "Cache": "cache", "Broker": "broker", "QueueWorkers": "workers",
               "ModelStoreDisk": "model_store_disk"}


class ReadinessView(HealthCheckView):
    """Readiness: every check below, as JSON
    (`{"status": "ok"|"unavailable", "checks": {name: "OK" or the error}}`);
    200 when all pass, 503 otherwise (a load balancer takes the host out)."""

    checks = (
        "health_check.Database",
        "health_check.Cache",
        "operations.checks.Broker",
        "operations.checks.QueueWorkers",
        "operations.checks.ModelStoreDisk",
    )

    @method_decorator(never_cache)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        has_errors = self.check()
        checks = {CHECK_NAMES.get(type(p).__qualname__, repr(p)): str(p.pretty_status()) for p in self.plugins.values()}
        return JsonResponse({"status": "unavailable" if has_errors else "ok", "checks": checks},
                            status=503 if has_errors else 200)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a bearer token equal to CHEXGOLD_METRICS_TOKEN.
    Without that setting the endpoint does not exist (404)."""
    token = settings.CHEXGOLD_METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    collector_register()
    return ExportToDjangoView(request)
