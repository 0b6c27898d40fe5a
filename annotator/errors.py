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


class ReadUsed(ReviewError):
    """A submitted read can no longer be reopened: the report became gold or was
    sent to adjudication (`selectors.read_is_used`)."""

    http_status = 409
    code = "read_used"


class GoldConflict(ReviewError, VersionConflict):
    """The current gold row is not the one the adjudicator saw."""

    http_status = 409
    code = "stale_version"


class NotAllowed(ReviewError):
    """The user's role or relation to the report forbids this."""

    http_status = 403
    code = "not_allowed"


class AdjudicationRefused(NotAllowed):
    """Resolution refused: the report is not awaiting adjudication (nor gold), or the
    user reads or holds it. Answered as if the report did not exist; the attempt
    is recorded (`annotator.models.RefusedGoldWrite`)."""

    http_status = 404
    code = "not_found"


class LabelImportInvalid(ReviewError):
    """A label import asked for something impossible (a kind without its reader or
    labeler name, `replace` outside gold, an unknown `zero_means`); bad rows of
    the file are not this: they come back with the result, by line."""

    http_status = 400
    code = "invalid_label_import"
