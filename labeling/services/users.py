"""Users and roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from labeling.roles import ROLES, Role


def roles_ensure() -> None:
    """Create the role groups (idempotent; also run by a migration)."""
    for role in ROLES:
        Group.objects.get_or_create(name=role.group_name)


@transaction.atomic
def user_create_or_update(*, username: str, password: str, roles: list[Role], email: str = "") -> tuple[AbstractUser, bool]:
    """Create a user, or add `roles` to an existing one and set its password.

    Returns (user, created). Staff status follows the admin role so admins can
    use Django's admin site.
    """
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    if Role.ADMIN in roles:
        user.is_staff = True
    user.save()
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role.group_name)
        user.groups.add(group)
    return user, created
