"""Errors the review rules raise (services and selectors); each says its HTTP
answer (`api.errors.DomainError`), pages show the message."""

from __future__ import annotations

from api.errors import DomainError, VersionConflict


class ReviewError(DomainError):
    """A request the review rules refuse; the message is shown to the user."""

    http_status = 400
    code = "invalid"


class StaleVersion(ReviewError, VersionConflict):
    """The annotation changed since the client loaded it (another tab, a stale autosave)."""

    http_status = 409
    code = "stale_version"


class NoCapacity(ReviewError):
    """The report already has k reads (submitted or reserved by others)."""

    http_status = 409
    code = "no_capacity"


class GoldConflict(ReviewError, VersionConflict):
    """The current gold row is not the one the adjudicator saw."""

    http_status = 409
    code = "stale_version"


class NotAllowed(ReviewError):
    """The user's role or relation to the report forbids this."""

    http_status = 403
    code = "not_allowed"
