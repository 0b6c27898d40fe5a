"""Deactivating a user (sign-ins, sessions, token and reservations end at once;
audited), the last admin keeping the admin role, and confirming the removal of
one's own admin role (API and users page)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AccountChange
from accounts.roles import Role
from accounts.selectors import user_roles

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]  # row locks (axes, the admin group) differ by backend


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def _page(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def boss(make_user):  # type: ignore[no-untyped-def]
    return make_user("boss", "admin")


@pytest.fixture
def one_read_per_report(settings_row):  # type: ignore[no-untyped-def]
    settings_row.reads_per_report = 1
    settings_row.save()


def test_deactivation_ends_everything_at_once(boss, make_user, make_reports, one_read_per_report) -> None:  # type: ignore[no-untyped-def]
    reader1, reader2 = make_user("reader1", "reader"), make_user("reader2", "reader")
    (report,) = make_reports(1)
    browser = _page(reader1)
    assert browser.get("/queue/").status_code == 200
    key = Token.objects.create(user=reader1).key
    assert _api(reader1).post("/api/reports/next/").json()["id"] == report.id  # reader1 holds the only report
    assert _api(reader2).post("/api/reports/next/").status_code == 204

    response = _api(boss).post(f"/api/users/{reader1.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert _api(reader2).post("/api/reports/next/").json()["id"] == report.id  # released at once, not at expiry
    assert browser.get("/queue/").status_code == 302  # session over
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/annotations/").status_code == 401
    assert not Token.objects.filter(user=reader1).exists()
    signin = APIClient().post("/api/auth/token/", {"username": "reader1", "password": "correct-horse-42"}, format="json")
    assert signin.status_code == 400
    change = AccountChange.objects.get()
    assert (change.user, change.action, change.changed_by) == (reader1, AccountChange.Action.DEACTIVATED, boss)
    entries = _api(boss).get("/api/audit/?kind=account").json()["results"]
    assert [(e["action"], e["by"], e["before"], e["after"]) for e in entries] == [
        ("account deactivated", "boss", {"user": "reader1", "is_active": True}, {"user": "reader1", "is_active": False})]
    assert _api(reader2).post(f"/api/users/{reader2.pk}/deactivate/").status_code == 403


def test_deactivate_button_on_the_users_page(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    page = _page(boss)
    assert 'aria-label="Deactivate reader1"' in page.get("/manage/users/").content.decode()
    response = page.post("/manage/users/", {"action": "deactivate", "user_id": reader.pk}, follow=True)
    assert "Deactivated reader1" in response.content.decode()
    reader.refresh_from_db()
    assert not reader.is_active
    assert 'aria-label="Deactivate reader1"' not in response.content.decode()


def test_the_last_admin_keeps_the_admin_role(boss) -> None:  # type: ignore[no-untyped-def]
    api = _api(boss)
    demote = api.post(f"/api/users/{boss.pk}/roles/", {"role": "admin", "action": "remove", "confirm": True}, format="json")
    assert demote.status_code == 409 and demote.json()["code"] == "last_admin"
    deactivate = api.post(f"/api/users/{boss.pk}/deactivate/")
    assert deactivate.status_code == 409 and deactivate.json()["code"] == "last_admin"
    boss.refresh_from_db()
    assert boss.is_active and Role.ADMIN in user_roles(user=boss)
    page = _page(boss).post("/manage/users/", {"action": "remove_role", "user_id": boss.pk, "role": "admin", "confirm": "1"},
                            follow=True)
    assert "last active admin" in page.content.decode() and Role.ADMIN in user_roles(user=boss)


def test_an_inactive_admin_does_not_count(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    other = make_user("boss2", "admin")
    api = _api(boss)
    assert api.post(f"/api/users/{other.pk}/deactivate/").status_code == 200
    assert api.post(f"/api/users/{boss.pk}/roles/", {"role": "admin", "action": "remove", "confirm": True},
                    format="json").json()["code"] == "last_admin"


def test_admins_demote_other_admins_but_their_own_role_needs_confirmation(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    other = make_user("boss2", "admin")
    api = _api(boss)
    own = api.post(f"/api/users/{boss.pk}/roles/", {"role": "admin", "action": "remove"}, format="json")
    assert own.status_code == 400 and own.json()["code"] == "confirmation_required"
    assert Role.ADMIN in user_roles(user=boss)
    assert api.post(f"/api/users/{boss.pk}/roles/", {"role": "admin", "action": "remove", "confirm": True},
                    format="json").status_code == 200
    assert Role.ADMIN not in user_roles(user=boss)
    # Someone else's admin role needs no confirmation (while another admin is left).
    make_user("boss3", "admin")
    assert _api(other).post(f"/api/users/{make_user('boss4', 'admin').pk}/roles/",
                            {"role": "admin", "action": "remove"}, format="json").status_code == 200


def test_users_page_asks_to_confirm_removing_ones_own_admin_role(boss, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("boss2", "admin")
    page = _page(boss)
    html = page.get("/manage/users/").content.decode()
    assert html.count('aria-label="Confirm removing your own admin role"') == 1  # on one's own admin role only
    refused = page.post("/manage/users/", {"action": "remove_role", "user_id": boss.pk, "role": "admin"}, follow=True)
    assert "confirm to go ahead" in refused.content.decode() and Role.ADMIN in user_roles(user=boss)
    page.post("/manage/users/", {"action": "remove_role", "user_id": boss.pk, "role": "admin", "confirm": "1"})
    assert Role.ADMIN not in user_roles(user=boss)
