"""The one base class for errors that services raise and adapters turn into
HTTP answers. Each subclass says its HTTP status and machine-readable code, so
the API's exception handler (`api.exceptions`) maps every domain error the same
way without importing the apps that raise them (api/ is the bottom layer)."""

from __future__ import annotations


class DomainError(Exception):
    """A refused request that the caller can act on. `http_status` and `code`
    become the API's answer; pages show the message."""

    http_status: int = 400
    code: str = "invalid"


class VersionConflict(DomainError):
    """The client wrote against a version that is no longer current (optimistic
    concurrency): 409, or 412 when it sent If-Match (see `api.concurrency`)."""

    http_status = 409
    code = "stale_version"


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    http_status = 404
    code = "not_found"
