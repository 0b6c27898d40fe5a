"""Sign-in through the hospital directory: which directory groups give which role.

Two optional ways to sign in with the hospital's accounts, both off unless
configured by environment variables (README "Directory sign-in"):

- OpenID Connect (Entra ID / Azure AD, Keycloak, Okta, ...): `accounts.directory_oidc`
  (a mozilla-django-oidc backend and its two views);
- LDAP / Active Directory: `accounts.directory_ldap` (a django-auth-ldap backend;
  python-ldap is an optional extra, requirements-ldap.txt).

Both hand the user's directory groups to `directory_roles_sync`, which maps
them to roles by CHEXGOLD_DIRECTORY_ROLE_GROUPS and applies the difference
through `accounts.services.user_role_add` / `user_role_remove`, so every change
is a RoleChange like any other and the last active admin is never removed (the
refusal is logged, the sign-in goes ahead). Only the roles the setting names are
managed by the directory: a role it does not mention is left as set in the app.
Local accounts keep working unless CHEXGOLD_LOCAL_LOGIN=0.

The mapping's format (`role_groups_parse`), with groups compared ignoring case
and the spaces after a DN's commas::

    reader=cn=readers,ou=groups,dc=example,dc=org|cn=residents,ou=groups,dc=example,dc=org;admin=cn=chexgold-admins,...

`;` separates roles, the first `=` ends the role's name, `|` separates the groups
that give that role (a group name, a DN, a Keycloak path or an Entra object id:
whatever the directory sends).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import checks

from accounts.errors import LastAdmin
from accounts.roles import Role
from accounts.selectors import user_roles
from accounts.services import user_role_add, user_role_remove
from accounts.signals import role_changes_from

logger = logging.getLogger("chexgold.accounts.directory")


class RoleGroupsInvalid(ValueError):
    """CHEXGOLD_DIRECTORY_ROLE_GROUPS cannot be read."""


def group_normalize(name: str) -> str:
    """A group name or DN in the form the mapping compares: lower case, no spaces around `,` and `=`."""
    return re.sub(r"\s*([,=])\s*", r"\1", name.strip()).lower()


def role_groups_parse(spec: str) -> dict[Role, frozenset[str]]:
    """The role -> directory groups mapping written in CHEXGOLD_DIRECTORY_ROLE_GROUPS
    (module docstring). Raises RoleGroupsInvalid naming the bad part."""
    mapping: dict[Role, frozenset[str]] = {}
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        role_name, sep, groups = part.partition("=")
        try:
            role = Role(role_name.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise RoleGroupsInvalid(f"{role_name.strip()!r} is not a role (one of {known})") from None
        names = frozenset(group_normalize(g) for g in groups.split("|") if g.strip())
        if not sep or not names:
            raise RoleGroupsInvalid(f"{part!r}: give the role's groups after '=', e.g. reader=cn=readers,dc=example,dc=org")
        if role in mapping:
            raise RoleGroupsInvalid(f"the role {role.value!r} is given twice; separate its groups with '|'")
        mapping[role] = names
    return mapping


def role_groups() -> dict[Role, frozenset[str]]:
    """The configured mapping (CHEXGOLD_DIRECTORY_ROLE_GROUPS)."""
    return role_groups_parse(getattr(settings, "CHEXGOLD_DIRECTORY_ROLE_GROUPS", ""))


def roles_for_groups(groups: Iterable[str], mapping: Mapping[Role, frozenset[str]]) -> frozenset[Role]:
    """The roles that the directory `groups` give under `mapping`."""
    held = {group_normalize(g) for g in groups}
    return frozenset(role for role, names in mapping.items() if names & held)


@dataclass
class DirectoryRoleSync:
    """What a sign-in changed: roles granted, revoked, and revocations refused (the last active admin)."""

    granted: list[Role] = field(default_factory=list)
    revoked: list[Role] = field(default_factory=list)
    refused: list[Role] = field(default_factory=list)


def directory_roles_sync(*, user: AbstractBaseUser, groups: Iterable[str], source: str) -> DirectoryRoleSync:
    """Make `user`'s directory-managed roles those their directory `groups` give.

    `user` must be saved. `source` ("oidc", "ldap") is logged and recorded on each RoleChange. Roles that
    CHEXGOLD_DIRECTORY_ROLE_GROUPS does not name are not touched; with no
    mapping nothing changes. A removal refused because it would leave no active
    admin is logged as a warning and skipped: the user keeps the role.
    """
    mapping = role_groups()
    result = DirectoryRoleSync()
    if not mapping:
        return result
    wanted = roles_for_groups(groups, mapping)
    with role_changes_from(source):  # the RoleChange rows name the directory: there is no acting user
        held = user_roles(user=user)
        for role in Role:
            if role not in mapping:
                continue
            if role in wanted and role not in held:
                user_role_add(user=user, role=role)
                result.granted.append(role)
            elif role not in wanted and role in held:
                if role is Role.ADMIN and getattr(user, "is_superuser", False):
                    continue  # a superuser is an admin without the group; the directory cannot change that
                try:
                    user_role_remove(user=user, role=role)
                except LastAdmin:
                    logger.warning(
                        "Directory sign-in (%s) of %r would remove the last active admin's %s role: refused, role kept.",
                        source, user.get_username(), role.value,
                    )
                    result.refused.append(role)
                    continue
                result.revoked.append(role)
    if result.granted or result.revoked:
        logger.info(
            "Directory sign-in (%s) of %r: granted %s, revoked %s.", source, user.get_username(),
            [r.value for r in result.granted] or "nothing", [r.value for r in result.revoked] or "nothing",
        )
    return result


@checks.register(checks.Tags.security, deploy=False)
def directory_settings_check(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """`manage.py check` (and every start): the directory settings can be used as written."""
    errors: list[checks.CheckMessage] = []
    try:
        role_groups()
    except RoleGroupsInvalid as exc:
        errors.append(checks.Error(f"CHEXGOLD_DIRECTORY_ROLE_GROUPS: {exc}", id="chexgold.E101"))
    if getattr(settings, "CHEXGOLD_OIDC_ENABLED", False):
        endpoints = {"CHEXGOLD_OIDC_AUTHORIZATION_ENDPOINT": "OIDC_OP_AUTHORIZATION_ENDPOINT",
                     "CHEXGOLD_OIDC_TOKEN_ENDPOINT": "OIDC_OP_TOKEN_ENDPOINT",
                     "CHEXGOLD_OIDC_USERINFO_ENDPOINT": "OIDC_OP_USER_ENDPOINT",
                     "CHEXGOLD_OIDC_JWKS_ENDPOINT": "OIDC_OP_JWKS_ENDPOINT"}
        missing = [name for name, setting in endpoints.items() if not getattr(settings, setting, "")]
        # With CHEXGOLD_OIDC_ISSUER the endpoints are discovered at the first sign-in; a check
        # must not call the provider (it runs on every start, also where the provider is unreachable).
        if missing and not getattr(settings, "CHEXGOLD_OIDC_ISSUER", ""):
            errors.append(checks.Error(f"OpenID Connect is on (CHEXGOLD_OIDC_CLIENT_ID) but {', '.join(missing)} "
                                       "not set, nor CHEXGOLD_OIDC_ISSUER to discover them "
                                       "(README \"Directory sign-in\").", id="chexgold.E102"))
    if getattr(settings, "CHEXGOLD_LDAP_ENABLED", False):
        try:
            import django_auth_ldap  # noqa: F401
            import ldap  # noqa: F401
        except ImportError:
            errors.append(checks.Error("LDAP is on (CHEXGOLD_LDAP_SERVER_URI) but python-ldap or django-auth-ldap is "
                                       "missing: pip install -r requirements-ldap.txt", id="chexgold.E103"))
    return errors
