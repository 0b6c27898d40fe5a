"""Errors as JSON, never a stack trace.

Domain errors (subclasses of `api.errors.DomainError`) carry their own HTTP
status and code, and are mapped here, once: e.g. NotAllowed -> 403,
StaleVersion/GoldConflict -> 409 (or 412 when the client sent If-Match, see
`api.concurrency`), NoCapacity -> 409, other ReviewError -> 400. Anything
unexpected is logged with an error id and answered with a plain 500 that
carries only that id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.errors import DomainError

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


def _body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, UploadInvalid):
        return Response(_body(str(exc.detail), exc.default_code, errors=exc.errors), status=400)
    if isinstance(exc, DomainError):
        return Response(_body(str(exc), exc.code), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        return Response(_body("; ".join(exc.messages), "invalid"), status=400)
    response = drf_exception_handler(exc, context)
    if response is not None:
        if isinstance(exc, (Http404, PermissionDenied)) or isinstance(response.data, dict) and "detail" in response.data:
            data = response.data if isinstance(response.data, dict) else {"detail": str(exc)}
            data.setdefault("code", getattr(getattr(exc, "detail", None), "code", None) or exc.__class__.__name__.lower())
            response.data = data
        return response
    error_id = uuid.uuid4().hex[:12]
    view = context.get("view")
    logger.exception("unhandled error %s in %s", error_id, view.__class__.__name__ if view else "?")
    return Response(_body("Internal server error. Quote this id when reporting it.", "server_error", error_id=error_id), status=500)
