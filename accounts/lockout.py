"""Sign-in lockout against password guessing (django-axes).

Every way to sign in calls Django's `authenticate` with the request: the login
page (/accounts/login/), the admin site's login (/admin/login/) and
POST /api/auth/token/ (`accounts.apis.TokenView`). `LockoutBackend`, first in
AUTHENTICATION_BACKENDS, refuses while the account or the client address is
locked; axes records every failure in the database (AccessAttempt and
AccessFailureLog, shared by all web processes) under the account and the
client address (`accounts.client_address`, AXES_CLIENT_IP_CALLABLE), and
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"] counts them both ways:
CHEXGOLD_LOGIN_FAILURE_LIMIT failures for one account from any addresses, or
from one address for any accounts, lock that account or address until
CHEXGOLD_LOGIN_LOCKOUT_MINUTES have passed without a further attempt.

The attempt that reaches the limit had its password checked like any other
and is answered as a failed sign-in; later attempts are refused without a
check: 429 with `{"detail", "code": "throttled"}` for the API (and JSON
clients), a plain page for HTML sign-ins (`lockout_response`, AXES_LOCKOUT_CALLABLE,
called by axes' middleware). Admins see attempts, failures and sign-ins in
the site admin (`accounts.admin`) and unlock by deleting the attempt rows there
or with `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api.problems import problem_response

# Set on a request whose sign-in was refused because of a lockout (password not checked).
REFUSED_ATTRIBUTE = "chexgold_lockout_refused"


class LockoutBackend(AxesStandaloneBackend):
    """Refuses sign-ins while locked out; the next backend checks the password."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> None:
        if request is None:
            # No client to lock out (a shell, a management command); every network sign-in passes a request.
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, REFUSED_ATTRIBUTE, True)
            raise


def lockout_refused(request: HttpRequest) -> bool:
    """Whether `request`'s sign-in was refused by the lockout."""
    return bool(getattr(request, REFUSED_ATTRIBUTE, False))


def _wants_json(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return (match is not None and match.namespace == "api") or request.headers.get("Accept", "").startswith("application/json")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """Answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE)."""
    if original_response is not None and not lockout_refused(request):
        return original_response  # the attempt that reached the limit: an ordinary failed sign-in
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    minutes = max(1, round(seconds / 60))
    message = f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}."
    response: HttpResponse
    if _wants_json(request):
        response = problem_response(429, message, "throttled")  # the API's one error format (RFC 9457)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    if seconds:
        # Each refused attempt starts the cool-off again (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT).
        response["Retry-After"] = str(seconds)
    return response
