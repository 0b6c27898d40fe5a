"""Sign-in lockout (django-axes, `accounts.lockout`): the login page, the admin
site's login and the API token endpoint share one count per account and one
per client address, kept in the database; a forged X-Forwarded-For does not
reset it; failures are audited and visible to admins."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]  # row locks (axes, the admin group) differ by backend

GOOD = "correct-horse-42"  # the make_user fixture's password
LIMIT = 10  # CHEXGOLD_LOGIN_FAILURE_LIMIT's default
_forged = (f"198.51.100.{i}" for i in itertools.count(1))


@pytest.fixture
def reader(make_user):  # type: ignore[no-untyped-def]
    return make_user("reader1", "reader")


def login(client: Client, username: str, password: str, **extra: Any) -> int:
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra).status_code


def token(client: APIClient, username: str, password: str, **extra: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_defaults_and_locked_login_page(reader) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    codes = [login(client, "reader1", "wrong") for _ in range(LIMIT)]
    assert codes == [200] * LIMIT  # each answered as a failed sign-in, the last one too
    refused = client.post("/accounts/login/", {"username": "reader1", "password": GOOD})  # right password, no check
    assert refused.status_code == 429 and "text/html" in refused["Content-Type"]
    assert "Too many failed sign-ins" in refused.content.decode() and int(refused["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session


def test_forged_changing_x_forwarded_for_does_not_bypass_the_limit(reader, make_user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 0
    client = Client(REMOTE_ADDR="203.0.113.50")
    # One account, a new forged address on every attempt.
    codes = [login(client, "reader1", "wrong", HTTP_X_FORWARDED_FOR=next(_forged)) for _ in range(LIMIT + 2)]
    assert codes[:LIMIT] == [200] * LIMIT and codes[LIMIT:] == [429, 429]
    assert login(client, "reader1", GOOD, HTTP_X_FORWARDED_FOR=next(_forged)) == 429
    # Other accounts from the same real address, forged addresses again: the address is locked too.
    make_user("reader2", "reader")
    assert login(client, "reader2", GOOD, HTTP_X_FORWARDED_FOR=next(_forged)) == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}


def test_trusted_proxy_addresses_are_counted_apart(reader, make_user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    make_user("reader2", "reader")
    proxy = Client(REMOTE_ADDR="10.0.0.2")  # our proxy; the address it appends is the client's
    for name in ("a", "b", "c"):
        login(proxy, name, "wrong", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert login(proxy, "reader1", GOOD, HTTP_X_FORWARDED_FOR="203.0.113.7") == 429  # that client is locked
    assert login(proxy, "reader2", GOOD, HTTP_X_FORWARDED_FOR="203.0.113.8") == 302  # another client behind the proxy is not


def test_per_account_across_addresses(reader, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("reader2", "reader")
    for i in range(LIMIT):
        assert login(Client(REMOTE_ADDR=f"192.0.2.{i + 1}"), "reader1", "wrong") == 200
    assert login(Client(REMOTE_ADDR="192.0.2.200"), "reader1", GOOD) == 429  # a fresh address: the account is locked
    assert login(Client(REMOTE_ADDR="192.0.2.201"), "reader2", GOOD) == 302  # other accounts are not


def test_per_address_across_accounts(reader, make_user) -> None:  # type: ignore[no-untyped-def]
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    for i in range(LIMIT):
        assert login(guesser, f"someone{i}", "wrong") == 200
    assert login(guesser, "reader1", GOOD) == 429  # a fresh account from that address: the address is locked
    assert login(Client(REMOTE_ADDR="192.0.2.67"), "reader1", GOOD) == 302  # the account from elsewhere is not


def test_admin_login_is_limited(make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("boss", "admin")
    client = Client()
    codes = [client.post("/admin/login/", {"username": "boss", "password": "wrong"}).status_code for _ in range(LIMIT)]
    assert codes == [200] * LIMIT
    refused = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": GOOD})
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.content.decode()
    assert login(Client(REMOTE_ADDR="192.0.2.9"), "boss", GOOD) == 429  # one count for every sign-in path


def test_token_endpoint_is_limited(reader) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    assert [token(client, "reader1", "wrong").status_code for _ in range(LIMIT)] == [400] * LIMIT
    refused = token(client, "reader1", GOOD)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled" and "Too many failed sign-ins" in body["detail"] and refused["Retry-After"]
    assert "token" not in body
    assert token(APIClient(REMOTE_ADDR="192.0.2.5"), "reader1", GOOD).status_code == 429  # per account
    assert login(Client(), "reader2", GOOD) == 429  # the address is locked on the login page too


def test_lockout_ends_after_the_cool_off(reader, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    login(client, "reader1", "wrong")
    login(client, "reader1", "wrong")
    assert login(client, "reader1", GOOD) == 429
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    assert login(client, "reader1", GOOD) == 302


def test_failures_are_audited_and_visible_to_admins(reader, make_user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(3):
        login(client, "reader1", "wrong")
    failures = list(AccessFailureLog.objects.order_by("id").values_list("username", "ip_address", "path_info", "locked_out"))
    assert failures == [("reader1", "127.0.0.1", "/accounts/login/", False),
                        ("reader1", "127.0.0.1", "/accounts/login/", True),
                        ("reader1", "127.0.0.1", "/accounts/login/", True)]
    boss = Client()
    boss.force_login(make_user("boss", "admin"))  # the admin role (staff, not superuser)
    for url in ("/admin/axes/accessfailurelog/", "/admin/axes/accessattempt/", "/admin/axes/accesslog/"):
        assert boss.get(url).status_code == 200, url
    assert "reader1" in boss.get("/admin/axes/accessfailurelog/").content.decode()
    failure = AccessFailureLog.objects.first()
    assert boss.post(f"/admin/axes/accessfailurelog/{failure.id}/delete/", {"post": "yes"}).status_code == 403  # audit stays
    attempt = AccessAttempt.objects.get()
    boss.post(f"/admin/axes/accessattempt/{attempt.id}/delete/", {"post": "yes"})  # unlock
    assert login(client, "reader1", GOOD) == 302
    nosy = Client()
    nosy.force_login(make_user("reader2", "reader"))
    assert nosy.get("/admin/axes/accessfailurelog/").status_code == 302  # not staff: the admin login page
