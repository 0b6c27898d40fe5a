"""Reads of users and their roles. Every role check (pages, API, statistics) starts here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from accounts.models import RoleChange
from accounts.roles import Role


def user_roles(*, user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    if not user.is_authenticated:
        return frozenset()
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    roles = {r for r in Role if r.group_name in names}
    if getattr(user, "is_superuser", False):
        roles.add(Role.ADMIN)
    return frozenset(roles)


def users_with_roles() -> list[tuple[AbstractBaseUser, list[str]]]:
    User = get_user_model()
    users = User.objects.prefetch_related("groups").order_by("username")
    role_names = {r.group_name for r in Role}
    return [(u, sorted(g.name for g in u.groups.all() if g.name in role_names)) for u in users]


def active_admin_ids() -> set[int]:
    """Active users who are admins (the admin group, or superusers: see `user_roles`)."""
    admins = get_user_model().objects.filter(is_active=True).filter(Q(groups__name=Role.ADMIN.group_name) | Q(is_superuser=True))
    return set(admins.values_list("pk", flat=True))


def role_changes_recent(*, limit: int = 20) -> list[RoleChange]:
    """The latest role changes, newest first, with who made them (or, for a directory sync, where from)."""
    return list(RoleChange.objects.select_related("user", "changed_by").order_by("-changed_at", "-id")[:limit])
