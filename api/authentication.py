"""Browser-session authentication that checks CSRF without parsing the body.

DRF's SessionAuthentication hands its DRF `Request` to Django's CSRF check,
which reads `request.POST` on a POST; DRF's `Request.POST` parses the body with
the view's parsers. So authentication, which runs before the permission check,
parsed the body: a signed-in user without the role who sent a wrong content
type got 415 (or a malformed body 400) instead of 403. Here the check gets the
plain Django request, whose POST is only parsed for form content types (where
the CSRF token may be a form field) and is left empty otherwise; the token
then comes from the X-CSRFToken header, as before. The order of checks is then:
content negotiation (406), authentication (401, CSRF 403), permissions (403),
throttles (429), and only then the view parses the body (415, 400).

A form body that Django parsed for the token is what DRF then uses (it cannot
read the stream twice), bypassing `api.parsers.MultiPartParser`; its fields get
the same NUL check here.
"""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.exceptions import ParseError
from rest_framework.request import Request


class SessionAuthentication(authentication.SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        django_request = request._request
        super().enforce_csrf(django_request)  # type: ignore[arg-type]
        form = getattr(django_request, "_post", None)
        if form is not None:
            for name, values in form.lists():
                if "\x00" in name or any("\x00" in v for v in values):
                    raise ParseError("Form parse error - a field contains a NUL byte")
