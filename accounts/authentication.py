"""API token authentication that loads the token, its user and the user's roles in one query.

DRF's TokenAuthentication loads token and user (select_related); the
permission check then asked for the roles in a second round trip on every
request. Here the roles come along as EXISTS columns (`accounts.selectors.role_flags`)
and seed the request's memo, so `user_roles` answers without a query. The
answers are DRF's own: 401 for an unknown token or an inactive user.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from accounts.selectors import role_flags, user_roles_remember
from api.compiled_queries import CompiledQuery, Slots


def _token_with_user_and_roles(slots: Slots) -> QuerySet[Token]:
    return Token.objects.select_related("user").annotate(**role_flags(user_ref="user_id")).filter(key=slots.str("key"))[:1]


# Compiled once per process (api.compiled_queries): building this query cost more CPU than running it.
_TOKEN_QUERY = CompiledQuery("accounts.token_with_user_and_roles", _token_with_user_and_roles)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        rows = _TOKEN_QUERY.run(key=key)
        token = rows[0] if rows else None
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user_roles_remember(user=token.user, row=token)
        return token.user, token
