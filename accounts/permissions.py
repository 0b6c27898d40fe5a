"""Who may call what: the one place where the API checks roles.

Role checks reuse `accounts.selectors.user_roles` (the same source as the
pages' `role_required`). What a user may *see* inside an endpoint (own
annotations only, reports assigned to or read by a reader, adjudication only of
reports the adjudicator did not read) is decided by the blinding policy in
`annotator.selectors.access`, which every view goes through.

Anonymous -> 401 (DRF answers 401 because TokenAuthentication sends a
WWW-Authenticate header); logged in without the role -> 403; objects a user may
not know about (another reader's annotation) -> 404 from the selectors.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.roles import Role
from accounts.selectors import user_roles


class _HasAnyRole(BasePermission):
    roles: frozenset[Role] = frozenset()
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return bool(user_roles(user=user) & self.roles)


def roles_allowed(*roles: Role) -> type[BasePermission]:
    """A permission class that admits users holding any of `roles`."""
    name = "Is" + "Or".join(r.value.title() for r in roles)
    return type(name, (_HasAnyRole,), {"roles": frozenset(roles), "message": f"Only {' or '.join(r.value + 's' for r in roles)} may do this."})


IsAdmin = roles_allowed(Role.ADMIN)
IsReader = roles_allowed(Role.READER)
IsAdjudicator = roles_allowed(Role.ADJUDICATOR)
IsAnyRole = roles_allowed(Role.READER, Role.ADJUDICATOR, Role.ADMIN)


def roles_of(request: Request) -> frozenset[Role]:
    return user_roles(user=request.user)


def user_of(request: Request) -> User:
    """The caller of a view whose permission classes admit only logged-in users (anonymous callers
    got 401 before the view ran), typed as the user model rather than `User | AnonymousUser`."""
    return cast(User, request.user)
