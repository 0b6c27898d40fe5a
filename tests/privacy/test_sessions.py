"""Session hygiene: idle timeout (background requests are not activity), keep-alive,
log out everywhere, password validators, login throttling, check --deploy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from privacy.services.sessions import LAST_ACTIVITY_KEY
from tests.conftest import REPO_ROOT
from tests.factories import ReportFactory, RulePredictionFactory

pytestmark = pytest.mark.django_db

BACKGROUND: dict[str, Any] = {"HTTP_X_CHEXGOLD_BACKGROUND": "1"}  # request META for Client.get/post(**extra)


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def set_last_activity(client: Client, seconds_ago: float) -> None:
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(time.time() - seconds_ago)
    session.save()


def last_activity(client: Client) -> int:
    return client.session[LAST_ACTIVITY_KEY]


@pytest.fixture
def reader(make_user):  # type: ignore[no-untyped-def]
    return make_user("reader1", "reader")


def test_idle_session_is_logged_out(settings, reader) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_SESSION_IDLE_MINUTES = 1
    client = signed_in(reader)
    assert client.get("/queue/").status_code == 200
    # Inside the limit with a margin: 59 s failed once in CI on a loaded
    # machine, where the request came more than a second after the stamp.
    set_last_activity(client, 50)
    assert client.get("/queue/").status_code == 200  # counts as activity
    set_last_activity(client, 61)
    response = client.get("/queue/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/queue/")
    assert client.get("/queue/").status_code == 302  # the session is gone, not just refused once


def test_background_requests_are_not_activity(settings, reader) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_SESSION_IDLE_MINUTES = 1
    report = ReportFactory()
    RulePredictionFactory(report=report)
    client = signed_in(reader)
    client.post("/queue/next")
    set_last_activity(client, 40)
    stamp = last_activity(client)
    autosave = client.post(f"/review/{report.id}/draft", data={"labels": {}, "version": 0},
                           content_type="application/json", **BACKGROUND)
    assert autosave.status_code == 200
    assert last_activity(client) == stamp  # autosave did not extend the session
    set_last_activity(client, 61)
    expired = client.post(f"/review/{report.id}/draft", data={"labels": {}, "version": 0},
                          content_type="application/json", **BACKGROUND)
    assert expired.status_code == 401 and expired.json()["code"] == "session_expired"


def test_keepalive_post_is_activity_and_get_reports_time_left(settings, reader) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_SESSION_IDLE_MINUTES = 1
    client = signed_in(reader)
    client.get("/queue/")
    set_last_activity(client, 50)
    left = client.get("/privacy/keepalive", **BACKGROUND).json()
    assert 5 <= left["remaining_seconds"] <= 10 and left["idle_seconds"] == 60
    assert client.post("/privacy/keepalive").json()["remaining_seconds"] >= 59
    set_last_activity(client, 61)
    assert client.get("/privacy/keepalive", **BACKGROUND).status_code == 401
    assert Client().post("/privacy/keepalive").status_code in (401, 403)  # anonymous (CSRF or not signed in)


def test_log_out_everywhere_from_the_users_page(reader, make_user) -> None:  # type: ignore[no-untyped-def]
    laptop, desktop = signed_in(reader), signed_in(reader)
    assert laptop.get("/queue/").status_code == 200 and desktop.get("/queue/").status_code == 200
    admin = signed_in(make_user("boss", "admin"))
    page = admin.get("/manage/users/").content.decode()
    assert 'aria-label="Log reader1 out everywhere"' in page
    response = admin.post("/manage/users/", {"action": "end_sessions", "user_id": reader.pk})
    assert response.status_code == 302
    assert laptop.get("/queue/").status_code == 302 and desktop.get("/queue/").status_code == 302
    assert admin.get("/manage/users/").status_code == 200  # the admin's own session is untouched
    fresh = signed_in(reader)  # a new sign-in works
    assert fresh.get("/queue/").status_code == 200


def test_log_out_everywhere_through_the_api_also_revokes_the_token(reader, make_user) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    browser = signed_in(reader)
    browser.get("/queue/")
    Token.objects.create(user=reader)
    admin = signed_in(make_user("boss", "admin"))
    response = admin.post(f"/api/users/{reader.pk}/sessions/end/")
    assert response.status_code == 200 and response.json()["session_epoch"] == 1
    assert browser.get("/queue/").status_code == 302
    assert not Token.objects.filter(user=reader).exists()
    assert admin.post(f"/api/users/{reader.pk}/sessions/end/").json()["session_epoch"] == 2
    other = signed_in(make_user("reader2", "reader"))
    assert other.post(f"/api/users/{reader.pk}/sessions/end/").status_code == 403


def test_password_validators_are_on() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    assert len(django_settings.AUTH_PASSWORD_VALIDATORS) == 4
    for weak in ("password", "12345678901", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct-horse-42-staple")


def test_login_throttle_has_one_home(settings) -> None:  # type: ignore[no-untyped-def]
    # One home: django-axes' lockout (accounts.lockout), its backend first and its middleware the only sign-in limiter.
    assert [m for m in settings.MIDDLEWARE if "Throttle" in m or "axes" in m] == ["axes.middleware.AxesMiddleware"]
    assert settings.AUTHENTICATION_BACKENDS[0] == "accounts.lockout.LockoutBackend"
    client = Client()
    codes = [client.post("/accounts/login/", {"username": "nobody", "password": "wrong"}).status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429


def test_check_deploy_is_clean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=secrets.token_urlsafe(50)[:50] + "x" * 0,
               CHEXGOLD_HTTPS="true", DJANGO_ALLOWED_HOSTS="chexgold.example.org", CHEXGOLD_VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
