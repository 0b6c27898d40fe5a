"""The OpenID Connect provider's endpoints, from CHEXGOLD_OIDC_ISSUER's discovery document.

With CHEXGOLD_OIDC_ISSUER set, the authorization, token, userinfo and JWKS
endpoints come from `<issuer>/.well-known/openid-configuration` (OpenID Connect
Discovery 1.0); an endpoint variable that is set explicitly still wins. The
document is read lazily, on the first sign-in of each process, not at start:
`manage.py` commands and system checks must not depend on the provider being
reachable. A successful read is kept for the life of the process; a failed
one is not, so the next sign-in tries again.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# mozilla-django-oidc's setting -> the discovery document's key.
ENDPOINT_KEYS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}

_documents: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


class OIDCDiscoveryFailed(ImproperlyConfigured):
    """The issuer's discovery document could not be read or does not name an endpoint we need."""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def provider_configuration(*, issuer: str) -> dict[str, Any]:
    """The issuer's discovery document (cached per process once read successfully).

    Raises OIDCDiscoveryFailed, naming the URL and the cause, when the provider cannot be
    reached, answers with an error or something other than JSON, or names another issuer
    (the spec requires `issuer` to equal the URL it was discovered from)."""
    with _lock:
        cached = _documents.get(issuer)
    if cached is not None:
        return cached
    url = discovery_url(issuer)
    try:
        response = requests.get(url, timeout=getattr(settings, "OIDC_TIMEOUT", 10),
                                verify=getattr(settings, "OIDC_VERIFY_SSL", True))
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OIDCDiscoveryFailed(f"CHEXGOLD_OIDC_ISSUER: cannot read the provider's discovery document {url}: "
                                  f"{exc}") from exc
    if not isinstance(document, dict):
        raise OIDCDiscoveryFailed(f"CHEXGOLD_OIDC_ISSUER: {url} is not a discovery document (not a JSON object).")
    named = str(document.get("issuer") or "")
    if named.rstrip("/") != issuer.rstrip("/"):
        raise OIDCDiscoveryFailed(f"CHEXGOLD_OIDC_ISSUER: {url} names the issuer {named!r}, not {issuer!r}; "
                                  "set CHEXGOLD_OIDC_ISSUER to the provider's issuer exactly.")
    with _lock:
        _documents[issuer] = document
    return document


def oidc_endpoint(setting: str) -> str:
    """The endpoint for mozilla-django-oidc's `setting` (one of ENDPOINT_KEYS): the explicit
    setting when set, else the issuer's discovery document's, else "" (OIDC not configured)."""
    explicit = str(getattr(settings, setting, "") or "")
    issuer = str(getattr(settings, "CHEXGOLD_OIDC_ISSUER", "") or "")
    if explicit or not issuer:
        return explicit
    value = provider_configuration(issuer=issuer).get(ENDPOINT_KEYS[setting])
    if not value:
        raise OIDCDiscoveryFailed(f"CHEXGOLD_OIDC_ISSUER: {discovery_url(issuer)} has no "
                                  f"{ENDPOINT_KEYS[setting]!r}; set it explicitly.")
    return str(value)


def forget_provider_configurations() -> None:
    """Drop the cached discovery documents (tests; a process that must re-read the provider)."""
    with _lock:
        _documents.clear()
