"""The API's JSON parser: DRF's, refusing input no view should have to handle.

- nesting deeper than MAX_JSON_DEPTH (json.loads recurses in C and raises
  RecursionError near 1,000 levels, which DRF would not catch: a 500);
- strings (keys or values) with NUL, which PostgreSQL text cannot store, or
  with lone surrogates (`"\\ud800"`), which are not Unicode text and fail to
  encode on the way to the database.

Each is a 400 (ParseError, a problem with code `parse_error`) before any view
code runs. The body size is limited before parsing, by the request-input
middleware (DATA_UPLOAD_MAX_MEMORY_SIZE, 413).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.parsers import MultiPartParser as DRFMultiPartParser

MAX_JSON_DEPTH = 64


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why `value` (parsed JSON) is refused, or None. Iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"JSON nested deeper than {max_depth} levels"
            children = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if "\x00" in item:
                return "JSON strings may not contain NUL (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "JSON strings must be valid Unicode (no lone surrogates)"
    return None


class JSONParser(DRFJSONParser):
    """DRF's JSONParser plus the depth, NUL and surrogate checks above."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        problem = json_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data


class MultiPartParser(DRFMultiPartParser):
    """DRF's MultiPartParser refusing NUL in the non-file fields (file contents are
    the import validator's business: it reports every bad line)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        data_and_files = super().parse(stream, media_type, parser_context)
        for name, values in data_and_files.data.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                raise ParseError("Multipart form parse error - a field contains a NUL byte")
        return data_and_files
