"""Django's password validators wherever a password is set (API, admin users
page, `create_user`, admin reset, one's own change), in the one service; only
the demo seed skips them. Resets and changes are audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.errors import WeakPassword
from accounts.models import AccountChange
from accounts.roles import Role
from accounts.services import user_create_or_update

pytestmark = pytest.mark.django_db

STRONG = "amber-lantern-7391"


@pytest.fixture
def boss(make_user):  # type: ignore[no-untyped-def]
    return make_user("boss", "admin")


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def _page(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _exists(username: str) -> bool:
    return get_user_model().objects.filter(username=username).exists()


def test_service_refuses_weak_passwords_with_every_reason() -> None:
    with pytest.raises(WeakPassword) as refused:
        user_create_or_update(username="alice", password="1234", roles=[Role.READER])
    message = str(refused.value)
    assert "too short" in message and "too common" in message and "entirely numeric" in message
    assert refused.value.http_status == 400 and refused.value.code == "weak_password"
    with pytest.raises(WeakPassword, match="too similar to the username"):
        user_create_or_update(username="alice.wonderland", password="alicewonderland", roles=[Role.READER])
    assert not _exists("alice") and not _exists("alice.wonderland")


def test_demo_users_skip_the_validators_only_when_asked() -> None:
    user, created = user_create_or_update(username="demo", password="password", roles=[Role.READER], demo_user=True)
    assert created and user.check_password("password")


def test_api_user_create_validates_the_password(boss) -> None:  # type: ignore[no-untyped-def]
    api = _api(boss)
    weak = api.post("/api/users/", {"username": "newbie", "password": "password", "roles": ["reader"]}, format="json")
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password" and "too common" in weak.json()["detail"]
    assert not _exists("newbie")
    ok = api.post("/api/users/", {"username": "newbie", "password": STRONG, "roles": ["reader"]}, format="json")
    assert ok.status_code == 201
    # Adding a role to an existing user sets its password too: validated as well.
    again = api.post("/api/users/", {"username": "newbie", "password": "newbie12", "roles": ["adjudicator"]}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "weak_password"
    assert get_user_model().objects.get(username="newbie").check_password(STRONG)


def test_users_page_validates_the_password(boss) -> None:  # type: ignore[no-untyped-def]
    page = _page(boss)
    weak = page.post("/manage/users/", {"action": "create", "username": "newbie", "password": "qwerty123", "role": "reader"})
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    assert not _exists("newbie")
    ok = page.post("/manage/users/", {"action": "create", "username": "newbie", "password": STRONG, "role": "reader"})
    assert ok.status_code == 302 and _exists("newbie")


def test_create_user_command_validates_the_password() -> None:
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "carol", "--role", "reader", "--password", "abc")
    assert not _exists("carol")


def test_admin_resets_a_password_through_the_api(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    api = _api(boss)
    weak = api.post(f"/api/users/{reader.pk}/password/", {"password": "reader1"}, format="json")
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password"
    ok = api.post(f"/api/users/{reader.pk}/password/", {"password": STRONG}, format="json")
    assert ok.status_code == 200 and ok.json()["username"] == "reader1"
    reader.refresh_from_db()
    assert reader.check_password(STRONG)
    change = AccountChange.objects.get()
    assert (change.user, change.action, change.changed_by) == (reader, AccountChange.Action.PASSWORD_RESET, boss)
    entries = api.get("/api/audit/?kind=account").json()["results"]
    assert [(e["kind"], e["action"], e["by"], e["after"]) for e in entries] == [
        ("account", "account password_reset", "boss", {"user": "reader1"})]
    assert _api(reader).post(f"/api/users/{reader.pk}/password/", {"password": STRONG}, format="json").status_code == 403


def test_admin_resets_a_password_on_the_users_page(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    page = _page(boss)
    html = page.get("/manage/users/").content.decode()
    assert 'aria-label="New password for reader1"' in html
    page.post("/manage/users/", {"action": "set_password", "user_id": reader.pk, "password": "12345678"})
    reader.refresh_from_db()
    assert not reader.check_password("12345678")
    follow = page.post("/manage/users/", {"action": "set_password", "user_id": reader.pk, "password": STRONG}, follow=True)
    assert "Set a new password for reader1" in follow.content.decode()
    reader.refresh_from_db()
    assert reader.check_password(STRONG)
    assert AccountChange.objects.filter(user=reader, action=AccountChange.Action.PASSWORD_RESET, changed_by=boss).exists()


def test_users_change_their_own_password(make_user) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    page, other_session = _page(reader), _page(reader)
    assert 'href="/accounts/password/"' in page.get("/queue/").content.decode()  # nav link
    assert page.get("/accounts/password/").status_code == 200
    weak = page.post("/accounts/password/", {"old_password": "correct-horse-42", "new_password1": "password",
                                              "new_password2": "password"})
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    done = page.post("/accounts/password/", {"old_password": "correct-horse-42", "new_password1": STRONG, "new_password2": STRONG})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/done/"
    reader.refresh_from_db()
    assert reader.check_password(STRONG)
    assert page.get("/queue/").status_code == 200  # this session stays
    assert other_session.get("/queue/").status_code == 302  # the others end
    change = AccountChange.objects.get()
    assert (change.action, change.changed_by) == (AccountChange.Action.PASSWORD_CHANGED, reader)
    assert Client().get("/accounts/password/").status_code == 302  # signed-in users only


def test_a_password_reset_revokes_the_api_token_and_ends_every_session(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    reader = make_user("reader1", "reader")
    session = _page(reader)
    assert session.get("/queue/").status_code == 200
    token = Token.objects.create(user=reader)
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert script.post("/api/reports/next/").status_code in (200, 204, 404)
    assert _api(boss).post(f"/api/users/{reader.pk}/password/", {"password": STRONG}, format="json").status_code == 200
    assert not Token.objects.filter(user=reader).exists()
    assert script.post("/api/reports/next/").status_code == 401
    assert session.get("/queue/").status_code == 302  # the reset ends the reader's sessions


def test_changing_ones_own_password_revokes_the_api_token_but_keeps_this_session(make_user) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.authtoken.models import Token

    reader = make_user("reader1", "reader")
    Token.objects.create(user=reader)
    page = _page(reader)
    done = page.post("/accounts/password/", {"old_password": "correct-horse-42", "new_password1": STRONG, "new_password2": STRONG})
    assert done.status_code == 302
    assert not Token.objects.filter(user=reader).exists()
    assert page.get("/queue/").status_code == 200
