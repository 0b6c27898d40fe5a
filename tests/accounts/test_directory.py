"""The directory group -> role mapping (accounts.directory) and its start-up check."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.directory import RoleGroupsInvalid, directory_settings_check, role_groups_parse, roles_for_groups
from accounts.roles import Role


def test_the_mapping_reads_dns_and_several_groups_per_role() -> None:
    mapping = role_groups_parse(" reader=cn=Readers, ou=groups,dc=h,dc=org|residents ; admin=cn=admins,dc=h,dc=org;")
    assert mapping == {Role.READER: frozenset({"cn=readers,ou=groups,dc=h,dc=org", "residents"}),
                       Role.ADMIN: frozenset({"cn=admins,dc=h,dc=org"})}
    assert roles_for_groups(["CN=readers,OU=groups,DC=h,DC=org", "other"], mapping) == {Role.READER}
    assert roles_for_groups(["Residents", "cn=admins, dc=h, dc=org"], mapping) == {Role.READER, Role.ADMIN}
    assert role_groups_parse("") == {}


@pytest.mark.parametrize(("spec", "message"), [
    ("radiologist=cn=x", "not a role"),
    ("reader", "give the role's groups"),
    ("reader=", "give the role's groups"),
    ("reader=a;reader=b", "given twice"),
])
def test_a_bad_mapping_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(RoleGroupsInvalid, match=message):
        role_groups_parse(spec)


def test_the_check_reports_bad_settings(settings: Any) -> None:
    settings.CHEXGOLD_DIRECTORY_ROLE_GROUPS = "boss=cn=x"
    settings.CHEXGOLD_OIDC_ENABLED = True
    settings.OIDC_OP_TOKEN_ENDPOINT = ""
    ids = {e.id for e in directory_settings_check()}
    assert {"chexgold.E101", "chexgold.E102"} <= ids
    settings.CHEXGOLD_DIRECTORY_ROLE_GROUPS = ""
    settings.CHEXGOLD_OIDC_ENABLED = False
    assert directory_settings_check() == []
