"""One JSON error format for every API error: RFC 9457 problem details.

Every error the API answers (DRF views through `api.exceptions`, the input
middleware, the /api/ 404/400/403/500 handlers) is `application/problem+json`:

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "No such report, or not yours to see.", "code": "not_found"}

`type` is "about:blank" (RFC 9457 4.2: the problem is what the HTTP status
says, and `title` is its reason phrase); `code` (an extension member, kept from
the earlier `{"detail", "code"}` bodies so clients do not break) names the
specific problem. Extra members: `errors` (field errors of a 400, or every bad
line of an upload), `error_id` (a 500's id in the server log), `warnings`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


def http_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """The problem-details object of an error (RFC 9457 members first, then ours)."""
    return {"type": "about:blank", "title": http_title(status), "status": status, "detail": detail, "code": code, **extra}


def problem_response(status: int, detail: str, code: str, **extra: Any) -> JsonResponse:
    """A plain Django response carrying a problem (for middleware and URL handlers, outside DRF)."""
    return JsonResponse(problem_body(status, detail, code, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE)


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")
