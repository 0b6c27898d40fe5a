"""The project-wide review settings row."""

from __future__ import annotations

from annotator.models import ReviewSettings
from api.request_memo import shared_memoized


# --- settings ----------------------------------------------------------------
def review_settings_get() -> ReviewSettings:
    """The single ReviewSettings row, shared between requests
    (`api.request_memo.shared_memoized`); a save drops it."""
    return shared_memoized("review_settings", _review_settings_load)


def _review_settings_load() -> ReviewSettings:
    row = ReviewSettings.objects.filter(singleton=1).first()
    if row is None:
        row, _ = ReviewSettings.objects.get_or_create(singleton=1)
    return row
