"""Small helpers every app's `apis.py` shares: query-parameter errors, streamed
downloads, and a content negotiation that leaves `?format=` to the view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request


def bad_request(detail: str) -> serializers.ValidationError:
    return serializers.ValidationError({"detail": detail})


def int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)  # type: ignore[arg-type]
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None


def stream_download(chunks: Iterator[str], *, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse((c.encode("utf-8") for c in chunks), content_type=content_type)
    # RFC 6266: an ASCII filename plus filename*= for the rest (names can carry any
    # user-given text, e.g. a version name; a raw one could even break the header).
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


class FormatIsOurs(DefaultContentNegotiation):
    """`?format=` names the export format here, not a DRF renderer."""

    # DRF passes a list (APIView.get_renderers); the stubs say Iterable.
    def select_renderer(  # type: ignore[override]
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type
