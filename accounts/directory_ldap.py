"""Sign-in with LDAP / Active Directory (django-auth-ldap; the optional extra
requirements-ldap.txt). Only imported when CHEXGOLD_LDAP_SERVER_URI is set
(AUTHENTICATION_BACKENDS), so the app runs without python-ldap.

The username and password from the sign-in form (or POST /api/auth/token/) are
checked by binding as the user found under CHEXGOLD_LDAP_USER_SEARCH_BASE with
CHEXGOLD_LDAP_USER_FILTER; the account is created on first sign-in (no usable
password here), its names and e-mail copied from the directory, and the user's
groups (under CHEXGOLD_LDAP_GROUP_SEARCH_BASE, by CHEXGOLD_LDAP_GROUP_TYPE) are
handed, as DNs, to `accounts.directory.directory_roles_sync` on every sign-in.
The backend reads its configuration from the CHEXGOLD_LDAP_* settings when it
is built, i.e. on every sign-in.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.conf import settings
from django_auth_ldap import config as ldap_config
from django_auth_ldap.backend import LDAPBackend

from accounts.directory import directory_roles_sync

GROUP_TYPES: dict[str, Any] = {
    "groupOfNames": ldap_config.GroupOfNamesType,
    "nestedGroupOfNames": ldap_config.NestedGroupOfNamesType,
    "groupOfUniqueNames": ldap_config.GroupOfUniqueNamesType,
    "posixGroup": ldap_config.PosixGroupType,
    "activeDirectory": ldap_config.ActiveDirectoryGroupType,
    "nestedActiveDirectory": ldap_config.NestedActiveDirectoryGroupType,
}


def ldap_backend_settings() -> dict[str, Any]:
    """django-auth-ldap's settings (without the AUTH_LDAP_ prefix) from the CHEXGOLD_LDAP_* ones."""
    group_type_name = settings.CHEXGOLD_LDAP_GROUP_TYPE
    if group_type_name not in GROUP_TYPES:
        raise ValueError(f"CHEXGOLD_LDAP_GROUP_TYPE must be one of {', '.join(GROUP_TYPES)}, not {group_type_name!r}")
    group_filter = "(objectClass=posixGroup)" if group_type_name == "posixGroup" else "(objectClass=*)"
    return {
        "SERVER_URI": settings.CHEXGOLD_LDAP_SERVER_URI,
        "START_TLS": settings.CHEXGOLD_LDAP_START_TLS,
        "BIND_DN": settings.CHEXGOLD_LDAP_BIND_DN,
        "BIND_PASSWORD": settings.CHEXGOLD_LDAP_BIND_PASSWORD,
        "USER_SEARCH": ldap_config.LDAPSearch(
            settings.CHEXGOLD_LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, settings.CHEXGOLD_LDAP_USER_FILTER
        ),
        "GROUP_SEARCH": ldap_config.LDAPSearch(settings.CHEXGOLD_LDAP_GROUP_SEARCH_BASE, ldap.SCOPE_SUBTREE, group_filter),
        "GROUP_TYPE": GROUP_TYPES[group_type_name](),
        "USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "ALWAYS_UPDATE_USER": True,
        "MIRROR_GROUPS": False,  # roles come from directory_roles_sync, not from copying every group
        "CONNECTION_OPTIONS": {ldap.OPT_NETWORK_TIMEOUT: settings.CHEXGOLD_LDAP_TIMEOUT_SECONDS,
                               ldap.OPT_TIMEOUT: settings.CHEXGOLD_LDAP_TIMEOUT_SECONDS},
    }


class LDAPDirectoryBackend(LDAPBackend):
    settings_prefix = "CHEXGOLD_DJANGO_AUTH_LDAP_"  # nothing is set under it: everything comes from `default_settings`

    @property  # type: ignore[override]
    def default_settings(self) -> dict[str, Any]:
        return ldap_backend_settings()

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is None or not user.is_active:
            return None  # deactivated in chexgold: no sign-in (not even an API token), whatever the directory says
        directory_roles_sync(user=user, groups=ldap_user.group_dns, source="ldap")
        return user

    def get_user(self, user_id: Any) -> Any:
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None
