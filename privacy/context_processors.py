from django.conf import settings
from django.http import HttpRequest


def session_timeout(request: HttpRequest) -> dict[str, object]:
    """Idle timeout figures for static/js/session_timeout.js (seconds)."""
    return {
        "session_idle_seconds": int(float(settings.CHEXGOLD_SESSION_IDLE_MINUTES) * 60),
        "session_warn_seconds": int(float(settings.CHEXGOLD_SESSION_WARN_MINUTES) * 60),
    }
