"""Statistics are computed in the background (quality.services): tests that read
them through the page, CSV or API first ask for the view and run the refresh."""

from __future__ import annotations

from typing import Any

from quality.services import statistics_refresh, statistics_refresh_recent, statistics_stored_for_user


def statistics_ready(*users: Any, **query: str) -> None:
    """Ask for `query`'s view as each user (so per-user views exist), then refresh every view as the worker would."""
    for user in users:
        statistics_stored_for_user(user=user, **query)
    statistics_refresh()
    statistics_refresh_recent()
