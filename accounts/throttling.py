"""Throttles for the credentials endpoints (password guessing).

`TokenRateThrottle` guards POST /api/auth/token/; `LoginThrottleMiddleware`
applies the `login` rate to POSTs to the login page (Django's LoginView is not
a DRF view). Both key on client address + username so one user mistyping does
not lock out a whole office behind one NAT, yet a guesser is slowed either way.
Rates: CHEXGOLD_LOGIN_RATE / CHEXGOLD_TOKEN_RATE (default 10/min). Counts live
in Django's cache (per process with the default local-memory cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from rest_framework.throttling import SimpleRateThrottle


class _CredentialThrottle(SimpleRateThrottle):
    def get_cache_key(self, request: Any, view: Any) -> str:
        data = getattr(request, "data", None)
        if data is None:
            data = request.POST
        username = ""
        try:
            username = str(data.get("username", ""))[:150].lower()
        except AttributeError:
            pass
        digest = hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:16]
        return self.cache_format % {"scope": self.scope, "ident": f"{self.get_ident(request)}:{digest}"}


class TokenRateThrottle(_CredentialThrottle):
    scope = "token"


class LoginRateThrottle(_CredentialThrottle):
    scope = "login"


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.throttle = LoginRateThrottle()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == resolve_url(settings.LOGIN_URL):
            # Outside DRF on purpose: the throttle only reads the client address and POST, and needs no view.
            if not self.throttle.allow_request(request, None):  # type: ignore[arg-type]
                wait = self.throttle.wait()
                response = JsonResponse(
                    {"detail": "Too many login attempts; try again later.", "code": "throttled"}, status=429
                ) if request.headers.get("Accept", "").startswith("application/json") else HttpResponse(
                    "Too many login attempts; try again in a minute.", status=429, content_type="text/plain"
                )
                if wait:
                    response["Retry-After"] = str(int(wait) + 1)
                return response
        return self.get_response(request)
