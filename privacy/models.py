"""Privacy tables: the append-only report-access audit and per-user session epochs.

Imported by `labeling.models` (so Django and migrations see them); kept apart
because nothing else in labeling depends on them. Written only through
`privacy.services.access_audit` and `privacy.services.sessions`.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit row through the app."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the report-access audit is append-only: rows cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("the report-access audit is append-only: rows cannot be deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        raise AppendOnlyError("the report-access audit is append-only: rows cannot be updated")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the report-access audit is append-only: rows cannot be updated")


class ReportAccess(models.Model):
    """One view of report text: who, which report(s), when, from where, through what.

    Append-only: `save()` of an existing row, `delete()`, and queryset
    update/delete raise `AppendOnlyError`; on PostgreSQL a trigger (migration
    0005) also refuses UPDATE and DELETE. No foreign keys that could cascade: the
    user is kept by id and name, reports by id, so the record outlives both.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    # The URL name of the page or endpoint ("annotator:review", "api:gold_export").
    channel = models.CharField(max_length=100, db_index=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Single-report views: that report's id (indexed); multi-report views (exports): null.
    report_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    report_count = models.PositiveIntegerField(default=0)
    # Every report id, compactly as sorted ranges: "1-500,502,510-900".
    report_ids = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "labeling_reportaccess"
        ordering = ["-at", "-id"]
        verbose_name = "report access"
        verbose_name_plural = "report access audit"
        indexes = [models.Index(fields=["user", "at"], name="reportaccess_user_at")]

    def __str__(self) -> str:
        return f"{self.username or self.user_id} viewed {self.report_count} report(s) via {self.channel} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("the report-access audit is append-only: rows cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the report-access audit is append-only: rows cannot be deleted")


class SessionEpoch(models.Model):
    """Per-user counter; a session stamped with an older epoch is logged out
    ("log out everywhere"). No row = epoch 0."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_epoch", primary_key=True)
    epoch = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "labeling_sessionepoch"
