"""Writes of users and roles (role changes are audited by `accounts.signals`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.db import transaction

from accounts.roles import Role


@transaction.atomic
def user_create_or_update(*, username: str, password: str, roles: list[Role], email: str = "") -> tuple[User, bool]:
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


@transaction.atomic
def user_role_add(*, user: AbstractBaseUser, role: Role) -> None:
    group, _ = Group.objects.get_or_create(name=role.group_name)
    user.groups.add(group)  # type: ignore[attr-defined]
    if role is Role.ADMIN and not getattr(user, "is_staff", False):
        get_user_model().objects.filter(pk=user.pk).update(is_staff=True)


@transaction.atomic
def user_role_remove(*, user: AbstractBaseUser, role: Role) -> None:
    group = Group.objects.filter(name=role.group_name).first()
    if group is not None:
        user.groups.remove(group)  # type: ignore[attr-defined]
