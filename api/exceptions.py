"""Errors as JSON, never a stack trace.

Domain errors (subclasses of `api.errors.DomainError`) carry their own HTTP
status and code, and are mapped here, once: e.g. NotAllowed -> 403,
StaleVersion/GoldConflict -> 409 (or 412 when the client sent If-Match, see
`api.concurrency`), NoCapacity -> 409, other ReviewError -> 400. A database
IntegrityError (a unique constraint caught a concurrent duplicate) -> 409
`conflict`; a body over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413; Django's other
SuspiciousOperation (too many fields) -> 400, as Django answers pages. Anything
unexpected is logged with an error id and answered with a plain 500 that
carries only that id.

Every answer is an RFC 9457 problem (`api.problems`), rendered as
`application/problem+json` whatever the Accept header asked for.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.errors import DomainError
from api.problems import PROBLEM_CONTENT_TYPE, problem_body

logger = logging.getLogger("api")


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "This write needs the version you last saw: send If-Match (the ETag) or a `version` field."
    default_code = "precondition_required"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you loaded it; reload and apply your change again."
    default_code = "precondition_failed"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed since you loaded it; reload and apply your change again."
    default_code = "conflict"


class UploadInvalid(APIException):
    """A bad upload: every problem with its line number (0 = the file as a whole)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_upload"

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


# Members of a problem object; a validation error's field named like one of
# these is reported under `errors` only.
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "errors", "error_id"})
TOO_LARGE_DETAIL = "The request body is too large."
CONFLICT_DETAIL = "This conflicts with a change made at the same time (e.g. the same request sent twice); reload and try again."


def _problem(request: Any, status_code: int, detail: str, code: str, *, headers: Any = None, **extra: Any) -> Response:
    # Errors are JSON even when the client's Accept asked for HTML (the browsable
    # API) or for nothing we serve (406): finalize_response renders with the
    # request's accepted renderer, so it is set here, in the one place.
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = PROBLEM_CONTENT_TYPE
    response = Response(problem_body(status_code, detail, code, **extra), status=status_code,
                        content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flat(detail: Any) -> str:
    if isinstance(detail, (list, tuple)):
        return " ".join(_flat(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flat(v)}" for k, v in detail.items())
    return str(detail)


def _from_drf(exc: Exception, response: Response, request: Any) -> Response:
    """DRF's answer to one of its exceptions (or Http404 / PermissionDenied), as a problem."""
    data = response.data
    detail_obj = getattr(exc, "detail", None)
    headers = {k: v for k, v in response.items() if k.lower() in ("www-authenticate", "allow", "retry-after")}
    if isinstance(data, dict) and "detail" in data and set(data) <= {"detail", "code"}:
        # {"detail": message}, or our bad_request(): {"detail": [message]}
        code = data.get("code") or getattr(detail_obj, "code", None)
        if code is None and isinstance(detail_obj, dict):
            inner = detail_obj.get("detail")
            code = getattr(inner[0] if isinstance(inner, list) and inner else inner, "code", None)
        if isinstance(exc, Http404):
            code = "not_found"
        elif isinstance(exc, PermissionDenied):
            code = "permission_denied"
        return _problem(request, response.status_code, _flat(data["detail"]), str(code or "error"), headers=headers)
    # Field errors of a serializer: {"field": ["message", ...], ...} (or a list).
    errors = data if isinstance(data, (dict, list)) else {"non_field_errors": [str(data)]}
    compat = {k: v for k, v in errors.items() if k not in _PROBLEM_MEMBERS} if isinstance(errors, dict) else {}
    return _problem(request, response.status_code, "Invalid input: " + _flat(errors), "invalid", headers=headers,
                    errors=errors, **compat)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, UploadInvalid):
        return _problem(request, 400, str(exc.detail), exc.default_code, errors=exc.errors)
    if isinstance(exc, DomainError):
        return _problem(request, exc.http_status, str(exc), exc.code)
    if isinstance(exc, DjangoValidationError):
        return _problem(request, 400, "; ".join(exc.messages), "invalid")
    if isinstance(exc, RequestDataTooBig):
        return _problem(request, 413, TOO_LARGE_DETAIL, "request_too_large")
    if isinstance(exc, SuspiciousOperation):
        # e.g. more than DATA_UPLOAD_MAX_NUMBER_FIELDS query or form fields: Django
        # answers pages 400, and DRF leaves these to us.
        logger.warning("suspicious request refused: %s", exc)
        return _problem(request, 400, "The request could not be read (too many fields, or malformed).", "invalid_input")
    if isinstance(exc, IntegrityError):
        # A constraint refused a write that raced another (e.g. two identical
        # creates): nothing was written, and retrying after a reload is right.
        error_id = uuid.uuid4().hex[:12]
        logger.warning("integrity error %s answered 409: %s", error_id, exc)
        return _problem(request, 409, CONFLICT_DETAIL, "conflict", error_id=error_id)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return _from_drf(exc, response, request)
    error_id = uuid.uuid4().hex[:12]
    view = context.get("view")
    logger.exception("unhandled error %s in %s", error_id, view.__class__.__name__ if view else "?")
    return _problem(request, 500, "Internal server error. Quote this id when reporting it.", "server_error", error_id=error_id)
