"""Error handlers (handler400/403/404/500 in `chexgold.urls`).

Under /api/ the answer is a problem (`api.problems`), like every other API
error: an unmatched /api/... path is a JSON 404, not the HTML page. Pages keep
Django's handlers, which render templates/400.html, 403.html, 404.html, 500.html.
"""

from __future__ import annotations

import logging
import uuid

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from api.problems import is_api_path, problem_response

logger = logging.getLogger("api")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path_info):
        return problem_response(400, "The request could not be understood.", "bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path_info):
        return problem_response(403, "You may not do this.", "permission_denied")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path_info):
        return problem_response(404, "There is no API endpoint at this path (see /api/schema/).", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path_info):
        # The traceback is already in the log (django.request); this id ties the answer to it.
        error_id = uuid.uuid4().hex[:12]
        logger.error("server error %s answering %s %s", error_id, request.method, request.path_info)
        return problem_response(500, "Internal server error. Quote this id when reporting it.", "server_error",
                                error_id=error_id)
    return defaults.server_error(request)
