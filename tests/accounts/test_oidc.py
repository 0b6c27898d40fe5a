"""OpenID Connect sign-in against a real provider: oidc-provider-mock, served on a
local port by the test (README "Directory sign-in"). The browser's part of the
code flow is played by `requests` (the provider's consent form) and Django's
test client (chexgold's redirect and callback); the token exchange, the ID
token's signature check and the userinfo call are real HTTP."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import RoleChange
from accounts.roles import Role
from accounts.selectors import active_admin_ids, user_roles
from tests.accounts.directory_settings import backends_and_password_login
from tests.conftest import require_service

pytestmark = pytest.mark.django_db

READERS = "cn=readers,ou=groups,dc=hospital,dc=org"
ADMINS = "cn=chexgold-admins,ou=groups,dc=hospital,dc=org"
ROLE_GROUPS = f"reader={READERS};adjudicator=chexgold-adjudicators;admin={ADMINS}"
BACKENDS = [
    "accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.directory_oidc.OIDCDirectoryBackend",
]


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    try:
        from oidc_provider_mock import run_server_in_thread
    except ImportError as exc:  # pragma: no cover - the pinned test dependency is missing
        require_service(False, f"oidc-provider-mock is not installed: {exc}")
    try:
        server_cm = run_server_in_thread()
        server = server_cm.__enter__()
    except OSError as exc:
        require_service(False, f"cannot start the OIDC provider: {exc}")
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server_cm.__exit__(None, None, None)


@pytest.fixture
def oidc(settings: Any, provider: str) -> str:
    settings.CHEXGOLD_OIDC_ENABLED = True
    settings.CHEXGOLD_OIDC_PROVIDER_NAME = "Hospital ID"
    settings.OIDC_RP_CLIENT_ID = "chexgold"
    settings.OIDC_RP_CLIENT_SECRET = "s3cret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider}/jwks"
    settings.CHEXGOLD_DIRECTORY_ROLE_GROUPS = ROLE_GROUPS
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    return provider


def directory_user(provider: str, sub: str, **claims: Any) -> None:
    """Create or change the provider's user `sub` (its claims as the directory holds them)."""
    requests.put(f"{provider}/users/{sub}", json=claims, timeout=10).raise_for_status()


def sign_in(client: Client, sub: str) -> Any:
    """The code flow: chexgold -> provider (the user picks `sub`) -> chexgold's callback. Returns the last response."""
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302, start
    consent = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/oidc/callback/"
    return client.get(f"{back.path}?{back.query}")


def test_sign_in_creates_the_user_with_mapped_roles(oidc: str) -> None:
    directory_user(oidc, "sub-ana", preferred_username="ana", email="ana@hospital.org", given_name="Ana",
                   groups=[READERS.upper(), "chexgold-adjudicators", "cn=nurses,ou=groups,dc=hospital,dc=org"])
    client = Client()
    done = sign_in(client, "sub-ana")
    assert done.status_code == 302 and done["Location"] == "/"
    ana = get_user_model().objects.get(username="ana")
    assert ana.email == "ana@hospital.org" and ana.first_name == "Ana"
    assert not ana.has_usable_password()
    assert user_roles(user=ana) == {Role.READER, Role.ADJUDICATOR}
    assert client.get("/").wsgi_request.user == ana  # signed in
    granted = set(RoleChange.objects.filter(user=ana, action=RoleChange.Action.GRANTED).values_list("role", "source"))
    assert granted == {("reader", "oidc"), ("adjudicator", "oidc")}


def test_a_group_change_changes_roles_on_the_next_sign_in_audited(oidc: str, make_user: Any) -> None:
    make_user("root", "admin")  # another admin, so ben may lose the role
    directory_user(oidc, "sub-ben", preferred_username="ben", groups=[READERS, ADMINS])
    sign_in(Client(), "sub-ben")
    ben = get_user_model().objects.get(username="ben")
    assert user_roles(user=ben) == {Role.READER, Role.ADMIN}

    directory_user(oidc, "sub-ben", preferred_username="ben", groups=["chexgold-adjudicators"])
    client = Client()
    assert sign_in(client, "sub-ben")["Location"] == "/"
    assert user_roles(user=ben) == {Role.ADJUDICATOR}
    latest = list(RoleChange.objects.filter(user=ben).order_by("id").values_list("role", "action", "source"))[-3:]
    assert sorted(latest) == [("adjudicator", "granted", "oidc"), ("admin", "revoked", "oidc"),
                              ("reader", "revoked", "oidc")]
    assert not RoleChange.objects.filter(user=ben).exclude(changed_by=None).exists()  # no acting user: the source says who


def test_directory_role_changes_show_their_source_on_the_users_page_and_in_the_audit(oidc: str, make_user: Any) -> None:
    root = make_user("root", "admin")
    directory_user(oidc, "sub-ida", preferred_username="ida", groups=[READERS])
    sign_in(Client(), "sub-ida")
    admin = Client()
    admin.force_login(root)
    ida = get_user_model().objects.get(username="ida")
    admin.post(f"/api/users/{ida.pk}/roles/", {"role": "adjudicator", "action": "add"}, content_type="application/json")
    entries = admin.get("/api/audit/?kind=role").json()["results"]
    mine = {(e["after"]["roles"][-1] if e["after"]["roles"] else None, e["by"], e["after"]["source"])
            for e in entries if e["after"]["user"] == "ida"}
    assert mine == {("reader", None, "oidc"), ("reader", "root", "local")}  # roles sorted: adjudicator, reader
    page = admin.get("/manage/users/").content.decode()
    assert "Recent role changes" in page
    assert "directory (OpenID Connect)" in page and "<td>chexgold</td>" in page


def test_a_role_the_mapping_does_not_name_is_left_alone(oidc: str, settings: Any, make_user: Any) -> None:
    settings.CHEXGOLD_DIRECTORY_ROLE_GROUPS = f"reader={READERS}"
    make_user("cy", "adjudicator")
    directory_user(oidc, "sub-cy", preferred_username="cy", groups=[READERS])
    sign_in(Client(), "sub-cy")
    assert user_roles(user=get_user_model().objects.get(username="cy")) == {Role.READER, Role.ADJUDICATOR}


@pytest.mark.both_backends  # the admin-group row lock (accounts.services) on PostgreSQL too
def test_removing_the_last_admin_is_refused_and_logged(oidc: str, caplog: pytest.LogCaptureFixture) -> None:
    directory_user(oidc, "sub-dee", preferred_username="dee", groups=[ADMINS])
    sign_in(Client(), "sub-dee")
    dee = get_user_model().objects.get(username="dee")
    assert active_admin_ids() == {dee.pk}

    directory_user(oidc, "sub-dee", preferred_username="dee", groups=[READERS])
    with caplog.at_level(logging.WARNING, logger="chexgold.accounts.directory"):
        client = Client()
        assert sign_in(client, "sub-dee")["Location"] == "/"  # still signs in
    assert user_roles(user=dee) == {Role.READER, Role.ADMIN}  # the admin role is kept
    assert active_admin_ids() == {dee.pk}
    assert any("last active admin" in r.getMessage() and "'dee'" in r.getMessage() for r in caplog.records)
    assert not RoleChange.objects.filter(user=dee, action=RoleChange.Action.REVOKED).exists()


def test_login_page_offers_the_provider_and_local_sign_in_can_be_switched_off(oidc: str, settings: Any,
                                                                              make_user: Any) -> None:
    make_user("local", "reader", password="correct-horse-42")
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with Hospital ID" in page and 'name="password"' in page
    assert Client().login(username="local", password="correct-horse-42")

    settings.CHEXGOLD_LOCAL_LOGIN = settings.CHEXGOLD_PASSWORD_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [b if "ModelBackend" not in b else "accounts.directory_oidc.PermissionsOnlyBackend"
                                        for b in BACKENDS]
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with Hospital ID" in page and 'name="password"' not in page
    refused = Client().post("/accounts/login/", {"username": "local", "password": "correct-horse-42"})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    token = Client().post("/api/auth/token/", {"username": "local", "password": "correct-horse-42"},
                          content_type="application/json")
    assert token.status_code in (400, 401)
    # Directory users still sign in.
    directory_user(oidc, "sub-eve", preferred_username="eve", groups=[READERS])
    assert sign_in(Client(), "sub-eve")["Location"] == "/"


def test_oidc_urls_404_when_not_configured(settings: Any) -> None:
    settings.CHEXGOLD_OIDC_ENABLED = False
    assert Client().get("/oidc/authenticate/").status_code == 404
    assert "Sign in with" not in Client().get("/accounts/login/").content.decode()




@pytest.fixture
def discovered(oidc: str, settings: Any) -> Iterator[str]:
    """OIDC configured by the issuer alone: no endpoint variable set."""
    from accounts.oidc_discovery import forget_provider_configurations

    settings.CHEXGOLD_OIDC_ISSUER = oidc
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = settings.OIDC_OP_TOKEN_ENDPOINT = ""
    settings.OIDC_OP_USER_ENDPOINT = settings.OIDC_OP_JWKS_ENDPOINT = ""
    forget_provider_configurations()
    yield oidc
    forget_provider_configurations()


def test_the_issuer_alone_configures_the_endpoints_by_discovery(discovered: str) -> None:
    from accounts.directory import directory_settings_check

    assert [e.id for e in directory_settings_check()] == []  # no endpoint missing: the issuer stands for them
    directory_user(discovered, "sub-hal", preferred_username="hal", groups=[READERS])
    client = Client()
    start = client.get("/oidc/authenticate/")
    assert start["Location"].startswith(f"{discovered}/oauth2/authorize?")  # from the discovery document
    assert sign_in(client, "sub-hal")["Location"] == "/"  # token, JWKS and userinfo endpoints discovered too
    hal = get_user_model().objects.get(username="hal")
    assert client.get("/").wsgi_request.user == hal
    assert user_roles(user=hal) == {Role.READER}


def test_an_endpoint_set_explicitly_overrides_the_discovered_one(discovered: str, settings: Any) -> None:
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://login.hospital.example/authorize"
    start = Client().get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith("https://login.hospital.example/authorize?")


def test_an_unreachable_issuer_is_a_clear_error_and_password_sign_in_still_works(
        oidc: str, settings: Any, make_user: Any, caplog: pytest.LogCaptureFixture) -> None:
    from accounts.oidc_discovery import forget_provider_configurations

    forget_provider_configurations()
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings.CHEXGOLD_OIDC_ISSUER = issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = settings.OIDC_OP_TOKEN_ENDPOINT = ""
    settings.OIDC_OP_USER_ENDPOINT = settings.OIDC_OP_JWKS_ENDPOINT = ""
    with caplog.at_level(logging.ERROR, logger="chexgold.accounts.directory"):
        refused = Client().get("/oidc/authenticate/")
        callback = Client().get("/oidc/callback/?code=abc&state=xyz")
    assert refused.status_code == 503
    assert "Signing in with Hospital ID is unavailable" in refused.content.decode()
    assert callback.status_code == 302 and callback["Location"] == "/accounts/login/?directory_failed=1"
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"{issuer}/.well-known/openid-configuration" in m for m in logged), logged
    make_user("local2", "reader", password="correct-horse-42")
    assert Client().login(username="local2", password="correct-horse-42")  # the provider is not asked


def test_environment_sets_the_issuer(tmp_path: Any) -> None:
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=Path(__file__).resolve().parents[2], capture_output=True,
        text=True, timeout=120,
        env=dict(os.environ, CHEXGOLD_VAR_DIR=str(tmp_path), CHEXGOLD_OIDC_CLIENT_ID="chexgold",
                 CHEXGOLD_OIDC_ISSUER="http://127.0.0.1:9/unreachable"))
    assert check.returncode == 0, check.stderr  # the check does not call the provider


def test_environment_switches_the_backends(tmp_path: Any) -> None:
    assert backends_and_password_login(tmp_path, CHEXGOLD_LOCAL_LOGIN="0", CHEXGOLD_OIDC_CLIENT_ID="chexgold") == ["accounts.lockout.LockoutBackend", "accounts.directory_oidc.PermissionsOnlyBackend",
                                   "accounts.directory_oidc.OIDCDirectoryBackend", "False"]


def test_a_deactivated_user_cannot_sign_in(oidc: str, make_user: Any) -> None:
    from accounts.services import user_deactivate

    make_user("root", "admin")
    directory_user(oidc, "sub-fay", preferred_username="fay", groups=[READERS])
    sign_in(Client(), "sub-fay")
    fay = get_user_model().objects.get(username="fay")
    user_deactivate(user=fay, by=None)
    client = Client()
    refused = sign_in(client, "sub-fay")
    assert refused["Location"].startswith("/accounts/login/?directory_failed=1")
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert "did not succeed" in client.get(refused["Location"]).content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_in_with_the_provider_in_a_browser(chromium: Any, live_server: Any, oidc: str) -> None:
    """End to end in Chromium: the login page's button, the provider's page, back signed in."""
    directory_user(oidc, "sub-gus", preferred_username="gus", groups=[READERS])
    page = chromium.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_role("link", name="Sign in with Hospital ID").click()
        page.wait_for_url(lambda url: url.startswith(oidc))
        page.get_by_placeholder("sub").fill("sub-gus")
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(lambda url: url.startswith(live_server.url) and "/oidc/" not in url and "/login/" not in url)
        page.get_by_role("button", name="Log out").wait_for()  # signed in
    finally:
        page.close()
    assert user_roles(user=get_user_model().objects.get(username="gus")) == {Role.READER}
