"""Stored statistics: the figures of each statistics view, computed in the background."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StatisticsSnapshot(models.Model):
    """The latest figures of one statistics view (mapping, gold-set version, split,
    read basis, and whose hidden reports they leave out), written only by
    `quality.services.statistics_refresh*` so that no request ever computes them.

    A row without figures is a view someone asked for that has not been computed
    yet (the page says "being computed", the API answers 202). Kept in the
    database rather than only a cache, so a restart or a cleared cache does not
    send every viewer back to waiting."""

    # "<mapping>|<gold version>|<split>|<reads>|<user id or ->": one row per view.
    key = models.CharField(max_length=400, unique=True)
    mapping = models.CharField(max_length=32)
    gold_version = models.CharField(max_length=200)
    split = models.CharField(max_length=16)
    reads = models.CharField(max_length=16)
    # The user whose unreleased reports these figures leave out; None: nothing left out (shared).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # JSON text, not a JSONField: PostgreSQL's jsonb would reorder keys, and the
    # tables' column order comes from the figures' key order.
    figures_json = models.TextField(blank=True, default="")
    # What the figures were computed on: the data stamp (`statistics_data_stamp`) and the hidden reports' digest.
    data_stamp = models.CharField(max_length=32, blank=True, default="")
    hidden_digest = models.CharField(max_length=32, blank=True, default="")
    computed_at = models.DateTimeField(null=True, blank=True)
    # Last time a viewer asked for this view (updated at most once a minute):
    # per-user views are refreshed only for users who asked recently.
    asked_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.key
