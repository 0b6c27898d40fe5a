from django.conf import settings
from django.http import HttpRequest

from accounts.roles import Role
from accounts.selectors import user_roles

# The admin part of the one navigation (templates/_nav.html): URL name, link text.
ADMIN_NAV = (
    ("labeling:import_list", "Imports"), ("ml_worker:training_runs", "Training"), ("ml_worker:model_versions", "Models"),
    ("annotator:manage_users", "Users"), ("annotator:manage_settings", "Settings"),
    ("annotator:manage_gold_versions", "Gold versions"), ("annotator:manage_flags", "Flags"),
    ("annotator:manage_guidelines", "Guidelines"), ("annotator:manage_calibration", "Calibration"),
    ("privacy:access_log", "Access audit"),
)


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
        "admin_nav": ADMIN_NAV,
    }



def sign_in_options(request: HttpRequest) -> dict[str, object]:
    """Which ways to sign in the login page offers (README "Directory sign-in")."""
    return {
        "password_login": settings.CHEXGOLD_PASSWORD_LOGIN,
        "oidc_login": settings.CHEXGOLD_OIDC_ENABLED,
        "oidc_provider_name": settings.CHEXGOLD_OIDC_PROVIDER_NAME,
    }
