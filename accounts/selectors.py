"""Reads of users and their roles. Every role check (pages, API, statistics) starts here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from accounts.roles import Role
from api.request_memo import memoized


def user_roles(*, user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The user's roles. Read once per request and user (`api.request_memo`: the
    permission check, the view and the selectors all ask); role writes forget them."""
    if not user.is_authenticated:
        return frozenset()
    return memoized(("roles", user.pk), lambda: _user_roles_load(user))


def _user_roles_load(user: AbstractBaseUser) -> frozenset[Role]:
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
