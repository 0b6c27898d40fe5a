from django.conf import settings
from django.http import HttpRequest

from accounts.roles import Role
from accounts.selectors import user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    # Error pages can render before the auth middleware ran (e.g. a 400 for a
    # disallowed Host header): no user then, so no roles.
    user = getattr(request, "user", None)
    held = user_roles(user=user) if user is not None else frozenset()
    return {
        "user_roles": sorted(r.value for r in held),
        "is_reader": Role.READER in held,
        "is_adjudicator": Role.ADJUDICATOR in held,
        "is_admin_role": Role.ADMIN in held,
    }



def sign_in_options(request: HttpRequest) -> dict[str, object]:
    """Which ways to sign in the login page offers (README "Directory sign-in")."""
    return {
        "password_login": settings.CHEXGOLD_PASSWORD_LOGIN,
        "oidc_login": settings.CHEXGOLD_OIDC_ENABLED,
        "oidc_provider_name": settings.CHEXGOLD_OIDC_PROVIDER_NAME,
    }
