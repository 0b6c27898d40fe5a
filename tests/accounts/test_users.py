"""Users and roles: the create_user command is idempotent and adds roles."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.roles import Role
from accounts.selectors import user_roles

pytestmark = pytest.mark.django_db


def test_create_user_then_add_a_role_and_reset_the_password() -> None:
    call_command("create_user", "alice", "--role", "reader", "--password", "first-pass-91")
    call_command("create_user", "alice", "--role", "adjudicator", "--password", "second-pass-92")
    user = get_user_model().objects.get(username="alice")
    assert user_roles(user=user) == {Role.READER, Role.ADJUDICATOR}
    assert authenticate(username="alice", password="second-pass-92") == user
    assert get_user_model().objects.count() == 1


def test_admin_role_grants_staff_for_the_admin_site() -> None:
    call_command("create_user", "root2", "--role", "admin", "--password", "admin-pass-93")
    assert get_user_model().objects.get(username="root2").is_staff
