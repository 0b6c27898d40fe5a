"""Reads of users and their roles. Every role check (pages, API, statistics) starts here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Q

from accounts.models import RoleChange
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
    return _roles_from(user, names)


def _roles_from(user: AbstractBaseUser, group_names: set[str]) -> frozenset[Role]:
    roles = {r for r in Role if r.group_name in group_names}
    if getattr(user, "is_superuser", False):
        roles.add(Role.ADMIN)
    return frozenset(roles)


def role_flags(*, user_ref: str) -> dict[str, Exists]:
    """Annotations that read the user's roles in the statement that loads the user
    (`user_ref`: the path to the user's id from the queried model, e.g. "user_id"),
    for `user_roles_remember`: the token authentication loads token, user and
    roles in one query."""
    membership = get_user_model().groups.through.objects  # type: ignore[attr-defined]
    return {f"role_{r.value}": Exists(membership.filter(user_id=OuterRef(user_ref), group__name=r.group_name)) for r in Role}


def user_roles_remember(*, user: AbstractBaseUser, row: object) -> None:
    """Seed this request's `user_roles` from `row`, annotated with `role_flags`."""
    names = {r.group_name for r in Role if getattr(row, f"role_{r.value}")}
    memoized(("roles", user.pk), lambda: _roles_from(user, names))


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
