"""The client's address, decided in one place for the access audit, sign-in
lockout (django-axes: AXES_CLIENT_IP_CALLABLE) and DRF (NUM_PROXIES, the same
rule from the same setting).

`REMOTE_ADDR` unless CHEXGOLD_TRUSTED_PROXY_COUNT says N proxies in front of the
app each append the address they saw to X-Forwarded-For; then the N-th entry
from the right, the address the outermost trusted proxy saw. Entries further
left come from the client and can be forged, so with the default 0 the header
is ignored altogether.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client address of `request` (normalised), or None when it is not an IP address."""
    meta = request.META
    candidate = meta.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "CHEXGOLD_TRUSTED_PROXY_COUNT", 0)
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
