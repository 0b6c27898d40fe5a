"""No path can leave the site without an active admin: besides the services'
own refusals (tests/accounts/test_deactivation_and_admins.py), the site admin's
user form and any direct change of groups, flags or rows are refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from accounts.errors import LastAdmin
from accounts.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def lone_admin(make_user):  # type: ignore[no-untyped-def]
    return make_user("boss", "admin")


def test_direct_group_removal_of_the_last_admin_is_refused(lone_admin) -> None:  # type: ignore[no-untyped-def]
    admin_group = Group.objects.get(name=Role.ADMIN.group_name)
    with pytest.raises(LastAdmin), transaction.atomic():
        lone_admin.groups.remove(admin_group)
    with pytest.raises(LastAdmin), transaction.atomic():
        lone_admin.groups.clear()
    with pytest.raises(LastAdmin), transaction.atomic():
        admin_group.user_set.clear()
    assert lone_admin.groups.filter(pk=admin_group.pk).exists()


def test_deactivating_or_deleting_the_last_admin_directly_is_refused(lone_admin) -> None:  # type: ignore[no-untyped-def]
    lone_admin.is_active = False
    with pytest.raises(LastAdmin), transaction.atomic():
        lone_admin.save()
    lone_admin.refresh_from_db()
    with pytest.raises(LastAdmin), transaction.atomic():
        lone_admin.delete()
    assert get_user_model().objects.filter(pk=lone_admin.pk, is_active=True).exists()


def test_with_a_second_admin_the_first_may_go(lone_admin, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("boss2", "admin")
    lone_admin.groups.clear()
    assert not lone_admin.groups.exists()


def test_the_site_admin_form_says_why_and_changes_nothing(make_user) -> None:  # type: ignore[no-untyped-def]
    root = get_user_model().objects.create_superuser("root", "root@example.org", "amber-lantern-7391")
    client = Client()
    client.force_login(root)
    # root is the only active admin (a superuser): unticking superuser and active is refused with the reason.
    page = client.get(f"/admin/auth/user/{root.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "groups", "user_permissions")}
    data.update({"username": "root", "is_superuser": "", "is_active": "", "is_staff": "on",
                 "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    answer = client.post(f"/admin/auth/user/{root.pk}/change/", data)
    assert answer.status_code == 200 and "last active admin" in answer.content.decode()
    root.refresh_from_db()
    assert root.is_superuser and root.is_active
    assert client.get(f"/admin/auth/user/{root.pk}/delete/").status_code == 403
