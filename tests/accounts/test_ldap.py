"""LDAP sign-in against a real OpenLDAP server: slapd, started by the test on a
local port with a temporary configuration and a small directory (README
"Directory sign-in"). Needs slapd (apt-get install -y slapd ldap-utils) and the
optional extra requirements-ldap.txt; skips with the reason otherwise."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import RoleChange
from accounts.roles import Role
from accounts.selectors import active_admin_ids, user_roles
from tests.accounts.directory_settings import backends_and_password_login
from tests.conftest import require_service

pytestmark = pytest.mark.django_db

BASE = "dc=hospital,dc=org"
ROOT_DN, ROOT_PASSWORD = f"cn=admin,{BASE}", "root-secret"
READERS = f"cn=readers,ou=groups,{BASE}"
ADJUDICATORS = f"cn=adjudicators,ou=groups,{BASE}"
ADMINS = f"cn=chexgold-admins,ou=groups,{BASE}"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
database mdb
maxsize 10485760
suffix "{base}"
rootdn "{root}"
rootpw {password}
directory {dir}/db
"""


def _person(uid: str, given: str, password: str) -> str:
    return (f"dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given} Doe\n"
            f"givenName: {given}\nsn: Doe\nmail: {uid}@hospital.org\nuserPassword: {password}\n")


def _group(dn: str, members: list[str]) -> str:
    cn = dn.split(",")[0].split("=")[1]
    lines = "".join(f"member: uid={m},ou=people,{BASE}\n" for m in members)
    return f"dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}"


DIRECTORY = "\n".join([
    f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: hospital\no: Hospital\n",
    f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
    f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
    _person("ana", "Ana", "ana-pw-1"),
    _person("ben", "Ben", "ben-pw-1"),
    _group(READERS, ["ana", "ben"]),
    _group(ADJUDICATORS, ["ana"]),
    _group(ADMINS, ["ben"]),
])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import django_auth_ldap  # noqa: F401
        import ldap
    except ImportError as exc:
        require_service(False, f"the LDAP extra is not installed (pip install -r requirements-ldap.txt): {exc}")
    if not (os.path.exists(SLAPD) and os.path.exists("/etc/ldap/schema/inetorgperson.schema")):
        require_service(False, "slapd is not installed (apt-get install -y slapd ldap-utils)")
    work = tmp_path_factory.mktemp("slapd")
    (work / "db").mkdir()
    conf = work / "slapd.conf"
    conf.write_text(CONFIG.format(dir=work, base=BASE, root=ROOT_DN, password=ROOT_PASSWORD))
    (work / "directory.ldif").write_text(DIRECTORY)
    loaded = subprocess.run([SLAPADD, "-f", str(conf), "-l", str(work / "directory.ldif")],
                            capture_output=True, text=True, timeout=30)
    if loaded.returncode != 0:
        require_service(False, f"slapadd could not load the test directory: {loaded.stderr[-500:]}")
    url = f"ldap://127.0.0.1:{_free_port()}"
    log = (work / "slapd.log").open("w")
    process = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"{url}/", "-d", "0"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = ldap.initialize(url)
                conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
                conn.unbind_s()
                break
            except ldap.LDAPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    require_service(False, f"slapd did not start: {(work / 'slapd.log').read_text()[-500:]}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def ldap_login(settings: Any, ldap_server: str) -> str:
    settings.CHEXGOLD_LDAP_ENABLED = True
    settings.CHEXGOLD_LDAP_SERVER_URI = ldap_server
    settings.CHEXGOLD_LDAP_BIND_DN = ROOT_DN
    settings.CHEXGOLD_LDAP_BIND_PASSWORD = ROOT_PASSWORD
    settings.CHEXGOLD_LDAP_USER_SEARCH_BASE = f"ou=people,{BASE}"
    settings.CHEXGOLD_LDAP_GROUP_SEARCH_BASE = f"ou=groups,{BASE}"
    settings.CHEXGOLD_LDAP_GROUP_TYPE = "groupOfNames"
    settings.CHEXGOLD_DIRECTORY_ROLE_GROUPS = f"reader={READERS};adjudicator={ADJUDICATORS};admin={ADMINS}"
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.lockout.LockoutBackend",
        "accounts.directory_ldap.LDAPDirectoryBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    return ldap_server


def _set_members(url: str, group_dn: str, members: list[str]) -> None:
    import ldap

    conn = ldap.initialize(url)
    conn.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
    conn.modify_s(group_dn, [(ldap.MOD_REPLACE, "member", [f"uid={m},ou=people,{BASE}".encode() for m in members])])
    conn.unbind_s()


def _sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def test_sign_in_creates_the_user_with_mapped_roles(ldap_login: str) -> None:
    _sign_in("ana", "ana-pw-1")
    ana = get_user_model().objects.get(username="ana")
    assert (ana.first_name, ana.last_name, ana.email) == ("Ana", "Doe", "ana@hospital.org")
    assert not ana.has_usable_password()
    assert user_roles(user=ana) == {Role.READER, Role.ADJUDICATOR}
    assert set(RoleChange.objects.filter(user=ana).values_list("role", "action", "source", "changed_by")) == {
        ("reader", "granted", "ldap", None), ("adjudicator", "granted", "ldap", None)}
    # The API token sign-in goes through the same backends.
    token = Client().post("/api/auth/token/", {"username": "ana", "password": "ana-pw-1"}, content_type="application/json")
    assert token.status_code == 200, token.content
    wrong = Client().post("/accounts/login/", {"username": "ana", "password": "nope"})
    assert wrong.status_code == 200 and not wrong.wsgi_request.user.is_authenticated


def test_a_group_change_changes_roles_on_the_next_sign_in_audited(ldap_login: str, make_user: Any) -> None:
    make_user("root", "admin")
    _sign_in("ben", "ben-pw-1")
    ben = get_user_model().objects.get(username="ben")
    assert user_roles(user=ben) == {Role.READER, Role.ADMIN}
    _set_members(ldap_login, ADMINS, ["ana"])
    try:
        _sign_in("ben", "ben-pw-1")
    finally:
        _set_members(ldap_login, ADMINS, ["ben"])
    assert user_roles(user=ben) == {Role.READER}
    assert RoleChange.objects.filter(user=ben, role="admin", action=RoleChange.Action.REVOKED).count() == 1


def test_removing_the_last_admin_is_refused_and_logged(ldap_login: str, caplog: pytest.LogCaptureFixture) -> None:
    _sign_in("ben", "ben-pw-1")
    ben = get_user_model().objects.get(username="ben")
    assert active_admin_ids() == {ben.pk}
    _set_members(ldap_login, ADMINS, ["ana"])
    try:
        with caplog.at_level(logging.WARNING, logger="chexgold.accounts.directory"):
            _sign_in("ben", "ben-pw-1")  # still signs in
    finally:
        _set_members(ldap_login, ADMINS, ["ben"])
    assert Role.ADMIN in user_roles(user=ben)
    assert any("last active admin" in r.getMessage() and "'ben'" in r.getMessage() for r in caplog.records)
    assert not RoleChange.objects.filter(user=ben, action=RoleChange.Action.REVOKED).exists()


def test_local_sign_in_switched_off_keeps_ldap(ldap_login: str, settings: Any, make_user: Any) -> None:
    make_user("local", "reader", password="correct-horse-42")
    settings.CHEXGOLD_LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.lockout.LockoutBackend",
        "accounts.directory_ldap.LDAPDirectoryBackend",
        "accounts.directory_oidc.PermissionsOnlyBackend",
    ]
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="password"' in page  # LDAP still signs in with the form
    refused = Client().post("/accounts/login/", {"username": "local", "password": "correct-horse-42"})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    _sign_in("ana", "ana-pw-1")


def test_lockout_counts_ldap_failures(ldap_login: str, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        assert Client().post("/accounts/login/", {"username": "ana", "password": "nope"}).status_code == 200
    locked = Client().post("/accounts/login/", {"username": "ana", "password": "ana-pw-1"})
    assert locked.status_code == 429




def test_environment_switches_the_backends(tmp_path: Path) -> None:
    assert backends_and_password_login(tmp_path, CHEXGOLD_LOCAL_LOGIN="0", CHEXGOLD_LDAP_SERVER_URI="ldap://ldap.hospital.org") == ["accounts.lockout.LockoutBackend", "accounts.directory_ldap.LDAPDirectoryBackend",
                                   "accounts.directory_oidc.PermissionsOnlyBackend", "True"]


def test_a_deactivated_user_cannot_sign_in_or_get_a_token(ldap_login: str, make_user: Any) -> None:
    from accounts.services import user_deactivate

    make_user("root", "admin")
    _sign_in("ana", "ana-pw-1")
    ana = get_user_model().objects.get(username="ana")
    user_deactivate(user=ana, by=None)
    refused = Client().post("/accounts/login/", {"username": "ana", "password": "ana-pw-1"})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    token = Client().post("/api/auth/token/", {"username": "ana", "password": "ana-pw-1"}, content_type="application/json")
    assert token.status_code in (400, 401)
