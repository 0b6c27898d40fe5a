"""Project-wide request and response hygiene, before and after any view.

`RequestInputMiddleware` refuses input no view should have to handle, so that
bad input is a 400/413 and never a 500 deep inside a query:
- a NUL byte or invalid UTF-8 in the path, the query string or a form body
  (PostgreSQL text cannot hold NUL; psycopg raises on it wherever a parameter
  reaches a query: statistics, exports, compare, filters, page GET params);
- a JSON or form body larger than DATA_UPLOAD_MAX_MEMORY_SIZE
  (CHEXGOLD_MAX_BODY_MB). Django checks that limit only when `request.body` or
  `request.POST` is read; DRF's parsers read the stream directly, so without
  this check a JSON body of any size was parsed. Multipart file parts are not
  counted by that limit (Django counts only the non-file fields); uploads have
  their own, larger limit (CHEXGOLD_MAX_UPLOAD_MB), also checked here from the
  Content-Length so a too-large upload is refused before it is streamed to disk.

Answers under /api/ are problem details (`api.problems`), pages get plain text.
JSON bodies are checked by the API's parser (`api.parsers`: depth, NUL), and the
non-file fields of API multipart bodies by `api.parsers.MultiPartParser`, so an
API upload is parsed only after authentication and permissions.

`NoStoreMiddleware` sets `Cache-Control: no-store` on every response except
static files and /healthz. Report text (protected health information) is on
the review, adjudication, flags and statistics pages, in API answers and in
exports; listing exactly those is easy to get wrong as pages are added, and
nothing else the app serves is worth caching, so no browser or intermediary
cache keeps any of it (the back button re-fetches instead of showing a page
from disk after sign-out).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError

from api.exceptions import TOO_LARGE_DETAIL
from api.problems import is_api_path, problem_response
from api.request_memo import request_memo

MB = 1024 * 1024


def _bad_bytes(raw: bytes) -> str | None:
    """Why a percent-encoded query string or form body is refused, or None."""
    decoded = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" in decoded:
        return "contains a NUL byte"
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8"
    return None


def _query_bytes(request: HttpRequest) -> bytes:
    query = request.META.get("QUERY_STRING", "")
    if isinstance(query, bytes):
        return query
    try:
        return query.encode("iso-8859-1")  # WSGI: the raw bytes, decoded as latin-1
    except UnicodeEncodeError:
        return query.encode("utf-8", "surrogateescape")


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class RequestInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        # A page view that reads request.POST past the limit (Django raises it lazily).
        if isinstance(exception, RequestDataTooBig):
            return self._answer(request, 413, TOO_LARGE_DETAIL, "request_too_large")
        return None

    @staticmethod
    def _answer(request: HttpRequest, status: int, detail: str, code: str) -> HttpResponseBase:
        if is_api_path(request.path_info):
            return problem_response(status, detail, code)
        return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")

    def _refusal(self, request: HttpRequest) -> HttpResponseBase | None:
        if "\x00" in request.path_info:
            return self._answer(request, 400, "The path contains a NUL byte.", "invalid_input")
        why = _bad_bytes(_query_bytes(request))
        if why:
            return self._answer(request, 400, f"The query string {why}.", "invalid_input")
        length = _content_length(request)
        content_type = request.content_type or ""
        if content_type == "multipart/form-data":
            upload_limit = (settings.CHEXGOLD_MAX_UPLOAD_MB + settings.CHEXGOLD_MAX_BODY_MB) * MB
            if length > upload_limit:
                return self._answer(
                    request, 413, f"The upload is larger than {settings.CHEXGOLD_MAX_UPLOAD_MB} MB.", "request_too_large"
                )
            if is_api_path(request.path_info):
                return None  # api.parsers.MultiPartParser checks the fields, after authentication
            return self._form_fields_refusal(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return self._answer(request, 413, TOO_LARGE_DETAIL, "request_too_large")
        if content_type == "application/x-www-form-urlencoded" and length:
            try:
                why = _bad_bytes(request.body)
            except RequestDataTooBig:
                return self._answer(request, 413, TOO_LARGE_DETAIL, "request_too_large")
            if why:
                return self._answer(request, 400, f"The form data {why}.", "invalid_input")
        return None

    def _form_fields_refusal(self, request: HttpRequest) -> HttpResponseBase | None:
        try:
            fields = request.POST
        except RequestDataTooBig:
            return self._answer(request, 413, TOO_LARGE_DETAIL, "request_too_large")
        except (MultiPartParserError, SuspiciousOperation) as exc:
            return self._answer(request, 400, f"The form data could not be read: {exc}", "invalid_input")
        for name, values in fields.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return self._answer(request, 400, "The form data contains a NUL byte.", "invalid_input")
        return None


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response but static files and /healthz (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.exempt = ("/" + settings.STATIC_URL.lstrip("/"), "/healthz")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path_info.startswith(self.exempt) and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


class RequestMemoMiddleware:
    """Opens the per-request memo (`api.request_memo`): the caller's roles and the
    settings rows are read once per request instead of once per caller."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with request_memo():
            return self.get_response(request)
