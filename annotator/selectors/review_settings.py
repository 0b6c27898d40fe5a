"""The project-wide review settings row."""

from __future__ import annotations

from annotator.models import ReviewSettings


# --- settings ----------------------------------------------------------------
def review_settings_get() -> ReviewSettings:
    row = ReviewSettings.objects.filter(singleton=1).first()
    if row is None:
        row, _ = ReviewSettings.objects.get_or_create(singleton=1)
    return row
