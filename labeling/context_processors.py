from django.conf import settings
from django.http import HttpRequest

from labeling.roles import Role
from labeling.selectors import user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    # Error pages can render before the auth middleware ran (e.g. a 400 for a
    # disallowed Host header): no user then, so no roles.
    user = getattr(request, "user", None)
    held = user_roles(user=user) if user is not None else frozenset()
    return {
        "user_roles": sorted(r.value for r in held),
        "is_reader": Role.READER in held,
        "is_adjudicator": Role.ADJUDICATOR in held,
        "is_admin_role": Role.ADMIN in held,
    }


def session_timeout(request: HttpRequest) -> dict[str, object]:
    """Idle timeout figures for static/js/session_timeout.js (seconds)."""
    return {
        "session_idle_seconds": int(float(settings.CHEXGOLD_SESSION_IDLE_MINUTES) * 60),
        "session_warn_seconds": int(float(settings.CHEXGOLD_SESSION_WARN_MINUTES) * 60),
    }
