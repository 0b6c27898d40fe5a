"""Idle timeout and "log out everywhere", enforced on every request.

- Idle timeout: a session with no *activity* for CHEXGOLD_SESSION_IDLE_MINUTES is
  logged out. Requests marked ``X-Chexgold-Background: 1`` (review autosave,
  import/training progress polling) are not activity, so an open tab that only
  autosaves or polls still times out. POST /privacy/keepalive ("Stay signed in")
  is activity. The warning before logout is static/js/session_timeout.js.
- Epoch: a session stamped at login with an older epoch than the user's current
  one (see `privacy.services.sessions.user_sessions_end`) is logged out.

Logged-out requests get a redirect to the login page, or 401 JSON for background
and JSON requests. API calls authenticated by token carry no session and pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from api.problems import problem_response
from privacy.services.sessions import LAST_ACTIVITY_KEY, SESSION_EPOCH_KEY, user_session_epoch

BACKGROUND_HEADER = "X-Chexgold-Background"
# Write the activity stamp at most this often (seconds): saves a session write per
# request; idle limits are minutes, so the error is negligible.
STAMP_RESOLUTION_S = 15


def idle_seconds_limit() -> float:
    return float(settings.CHEXGOLD_SESSION_IDLE_MINUTES) * 60.0


def session_seconds_left(*, session: object) -> int:
    """Seconds until an idle logout (the full limit if no activity is stamped)."""
    last = session.get(LAST_ACTIVITY_KEY)  # type: ignore[attr-defined]
    limit = idle_seconds_limit()
    return int(limit if last is None else max(0.0, float(last) + limit - time.time()))


def is_background(request: HttpRequest) -> bool:
    return request.headers.get(BACKGROUND_HEADER) == "1"


class SessionHygieneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = time.time()
            expired = False
            last = session.get(LAST_ACTIVITY_KEY)
            limit = idle_seconds_limit()
            if limit > 0 and last is not None and now - float(last) > limit:
                expired = True
            elif session.get(SESSION_EPOCH_KEY, 0) != user_session_epoch(user_id=user.pk):
                expired = True
            if expired:
                logout(request)
                return self._signed_out(request)
            if not is_background(request) and (last is None or now - float(last) >= min(STAMP_RESOLUTION_S, limit / 4 or 1)):
                session[LAST_ACTIVITY_KEY] = int(now)
        return self.get_response(request)

    @staticmethod
    def _signed_out(request: HttpRequest) -> HttpResponse:
        wants_json = is_background(request) or request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
        if wants_json:
            return problem_response(401, "Your session ended; sign in again.", "session_expired")
        return redirect_to_login(request.get_full_path())
