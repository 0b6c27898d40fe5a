"""Sign-in with OpenID Connect (Entra ID / Azure AD, Keycloak, Okta, ...).

`OIDCDirectoryBackend` (mozilla-django-oidc's backend) finds or creates the
account named by the provider's CHEXGOLD_OIDC_USERNAME_CLAIM (default
`preferred_username`), keeps its e-mail and names up to date, and on every
sign-in hands the CHEXGOLD_OIDC_GROUPS_CLAIM claim (default `groups`) to
`accounts.directory.directory_roles_sync`. An account created here has no
usable password. The two views answer 404 unless OIDC is configured
(CHEXGOLD_OIDC_CLIENT_ID set), so the URLs exist whatever the settings.

The provider's endpoints are either set one by one or discovered from
CHEXGOLD_OIDC_ISSUER (`accounts.oidc_discovery`); discovery happens only when
an OIDC sign-in needs them, so a password sign-in never waits on the provider.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.directory import directory_roles_sync
from accounts.oidc_discovery import OIDCDiscoveryFailed, oidc_endpoint

logger = logging.getLogger("chexgold.accounts.directory")


def oidc_enabled() -> bool:
    return bool(getattr(settings, "CHEXGOLD_OIDC_ENABLED", False))


def _claim_groups(claims: dict[str, Any]) -> list[str]:
    value = claims.get(settings.CHEXGOLD_OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


class OIDCDirectoryBackend(OIDCAuthenticationBackend):
    """Accounts are matched by username (the provider's username claim), not e-mail."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only an OIDC callback (code and state in the query) needs the provider's endpoints;
        # every other authenticate() call (password sign-ins, tokens) passes through untouched.
        if request is not None and request.GET.get("code") and request.GET.get("state"):
            self.OIDC_OP_TOKEN_ENDPOINT = oidc_endpoint("OIDC_OP_TOKEN_ENDPOINT")
            self.OIDC_OP_USER_ENDPOINT = oidc_endpoint("OIDC_OP_USER_ENDPOINT")
            self.OIDC_OP_JWKS_ENDPOINT = oidc_endpoint("OIDC_OP_JWKS_ENDPOINT")
        return super().authenticate(request, **kwargs)

    def _username(self, claims: dict[str, Any]) -> str:
        return str(claims.get(settings.CHEXGOLD_OIDC_USERNAME_CLAIM) or "").strip()

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        name = self._username(claims)
        return 0 < len(name) <= 150

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return get_user_model().objects.filter(username=self._username(claims))

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = get_user_model()(username=self._username(claims))
        user.set_unusable_password()
        self._copy_claims(user, claims)
        user.save()
        directory_roles_sync(user=user, groups=_claim_groups(claims), source="oidc")
        return user

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        if not user.is_active:
            return user  # deactivated in chexgold: the callback view refuses the sign-in; nothing to sync
        if self._copy_claims(user, claims):
            user.save(update_fields=["email", "first_name", "last_name"])
        directory_roles_sync(user=user, groups=_claim_groups(claims), source="oidc")
        return user

    @staticmethod
    def _copy_claims(user: Any, claims: dict[str, Any]) -> bool:
        changed = False
        for field_name, claim in (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name")):
            value = str(claims.get(claim) or "")[:150]
            if value and getattr(user, field_name) != value:
                setattr(user, field_name, value)
                changed = True
        return changed

    def retrieve_matching_jwk(self, token: Any) -> Any:
        """The provider's signing key for `token`: by its `kid`, or, for a token without
        one (allowed when the provider publishes a single key), the only key published."""
        if "kid" in jwt.get_unverified_header(token):
            return super().retrieve_matching_jwk(token)
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT, verify=self.get_settings("OIDC_VERIFY_SSL", True),
                                timeout=self.get_settings("OIDC_TIMEOUT", None))
        response.raise_for_status()
        keys = response.json().get("keys", [])
        if len(keys) != 1:
            raise SuspiciousOperation("The ID token names no signing key and the provider publishes several.")
        return jwt.PyJWK(keys[0])

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        try:
            return super().get_or_create_user(access_token, id_token, payload)
        except SuspiciousOperation:
            return None  # e.g. two accounts match: refuse the sign-in rather than answer 500

    def get_user(self, user_id: Any) -> Any:
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


class PermissionsOnlyBackend(ModelBackend):
    """Django's permission checks without its password sign-in (CHEXGOLD_LOCAL_LOGIN=0)."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> None:
        return None


class _DiscoveringRequestView(OIDCAuthenticationRequestView):
    """mozilla-django-oidc's redirect to the provider, with the authorization endpoint
    from CHEXGOLD_OIDC_ISSUER's discovery document when it is not set explicitly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.OIDC_OP_AUTH_ENDPOINT = oidc_endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")


def _provider_unreachable(exc: OIDCDiscoveryFailed) -> HttpResponse:
    logger.error("OpenID Connect sign-in refused: %s", exc)
    return HttpResponse(f"Signing in with {settings.CHEXGOLD_OIDC_PROVIDER_NAME} is unavailable: chexgold cannot "
                        "read the provider's configuration. Please try again later, or ask an admin (the server "
                        "log names the cause).", status=503, content_type="text/plain; charset=utf-8")


def oidc_authenticate(request: HttpRequest) -> HttpResponse:
    """Start an OIDC sign-in: redirect to the provider (404 when OIDC is off; 503 when
    the issuer's discovery document cannot be read)."""
    if not oidc_enabled():
        raise Http404("OpenID Connect sign-in is not configured.")
    try:
        return _DiscoveringRequestView.as_view()(request)
    except OIDCDiscoveryFailed as exc:
        return _provider_unreachable(exc)


def oidc_callback(request: HttpRequest) -> HttpResponse:
    """The provider's redirect back: sign in, or back to the login page on failure."""
    if not oidc_enabled():
        raise Http404("OpenID Connect sign-in is not configured.")
    try:
        return OIDCAuthenticationCallbackView.as_view()(request)
    except OIDCDiscoveryFailed as exc:
        logger.error("OpenID Connect sign-in refused: %s", exc)
        return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL_FAILURE)
