"""The API's error answers, documented once for every operation.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])
adds a `Problem` component (RFC 9457, see `api.problems`) and, to every
operation, the error statuses any view can answer through the shared plumbing:
the input middleware (400, 413), authentication and permissions (401, 403),
lookups (404), DRF's dispatch (405, 406, 415), throttles (429), domain errors
and races (409; writes also 412/428 from `api.concurrency`) and the last-resort
500 with its error id. An operation's own `extend_schema(responses=...)` wins
where it documents a status itself.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import authentication as spectacular_auth

from api.problems import PROBLEM_CONTENT_TYPE, http_title

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `detail` and `code` are the fields earlier clients read.",
    "properties": {
        "type": {"type": "string", "description": "a URI reference; about:blank: the HTTP status says it all"},
        "title": {"type": "string", "description": "the HTTP reason phrase"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what went wrong, for a person"},
        "code": {"type": "string", "description": "what went wrong, for a program (e.g. not_found, stale_version)"},
        "errors": {"description": "field errors of a 400 ({field: [message]}), or every bad line of an upload"},
        "error_id": {"type": "string", "description": "a 500's (or a race's 409) id in the server log"},
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": True,
}

ERROR_STATUSES = (400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 500)
WRITE_ERROR_STATUSES = (412, 428)
WRITE_METHODS = {"post", "put", "patch", "delete"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": f"{http_title(status)} (problem details)",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            statuses = ERROR_STATUSES + (WRITE_ERROR_STATUSES if method in WRITE_METHODS else ())
            for status in statuses:
                responses.setdefault(str(status), _problem_response(status))
    return result


class SessionScheme(spectacular_auth.SessionScheme):
    """Documents `api.authentication.SessionAuthentication` as DRF's (cookieAuth).
    Registered by subclassing; imported in ApiConfig.ready()."""

    target_class = "api.authentication.SessionAuthentication"
