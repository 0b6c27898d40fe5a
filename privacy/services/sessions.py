"""Session hygiene writes: "log out everywhere" and stamping new sessions.

A session carries the user's session epoch from login; bumping the epoch makes
`privacy.session_hygiene.SessionHygieneMiddleware` log out every older session
of that user at its next request (no scan of the session table).
"""

from __future__ import annotations

import time

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from rest_framework.authtoken.models import Token

from privacy.models import SessionEpoch

SESSION_EPOCH_KEY = "chexgold_session_epoch"
LAST_ACTIVITY_KEY = "chexgold_last_activity"


def user_session_epoch(*, user_id: int) -> int:
    value = SessionEpoch.objects.filter(user_id=user_id).values_list("epoch", flat=True).first()
    return value or 0


def user_sessions_end(*, user: User, by: User | None = None) -> int:
    """Log `user` out of every browser session (and revoke their API token).
    Returns the new epoch."""
    with transaction.atomic():
        row, created = SessionEpoch.objects.get_or_create(user_id=user.pk, defaults={"epoch": 1, "changed_by": by})
        if not created:
            SessionEpoch.objects.filter(user_id=user.pk).update(epoch=F("epoch") + 1, changed_by=by)
        Token.objects.filter(user_id=user.pk).delete()
    return user_session_epoch(user_id=user.pk)


def sessions_end_on_deactivation(sender: object, user: User, by: User | None = None, **kwargs: object) -> None:
    """`accounts.signals.user_deactivated` receiver (connected in `PrivacyConfig.ready`):
    a deactivated user's sessions end and their API token is revoked at once."""
    user_sessions_end(user=user, by=by)


def credentials_revoke_on_password_set(sender: object, user: User, by: User | None = None, **kwargs: object) -> None:
    """`accounts.signals.password_set` receiver (connected in `PrivacyConfig.ready`):
    the API token issued against the old password is revoked; when an admin
    reset the password (a suspected compromise, a departure), every session of
    the user ends too. A user changing their own password keeps the session they
    changed it in (Django's session hash already ends their others)."""
    if by is not None and by.pk == user.pk:
        Token.objects.filter(user_id=user.pk).delete()
    else:
        user_sessions_end(user=user, by=by)


def session_stamp_on_login(sender: object, request: object, user: User, **kwargs: object) -> None:
    """`user_logged_in` receiver: the new session belongs to the current epoch."""
    session = getattr(request, "session", None)
    if session is not None and user is not None:
        session[SESSION_EPOCH_KEY] = user_session_epoch(user_id=user.pk)
        session[LAST_ACTIVITY_KEY] = int(time.time())


def session_activity_mark(*, session: object) -> None:
    """Count now as activity (the "Stay signed in" keep-alive)."""
    session[LAST_ACTIVITY_KEY] = int(time.time())  # type: ignore[index]
