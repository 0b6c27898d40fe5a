"""Review-side state: re-reads, flags, guidelines, queue priorities, review settings.

The domain rows (reports, annotations, gold, reservations, calibration periods)
live in `labeling`; this app only adds what the review UI needs. Writes go through `annotator.services`, reads
through `annotator.selectors`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReviewSettings(models.Model):
    """UI-side runtime settings (one row); k, queue order and auto-gold live in
    `labeling.RuntimeSettings`."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    # Let readers get a report they already read again (intra-reader reliability).
    allow_rereads = models.BooleanField(default=False)
    # With re-reads on: the chance, in percent, that "Next report" hands a reader
    # one of their own reads (submitted at least a day ago) to read again.
    reread_percent = models.PositiveSmallIntegerField(default=5)
    # Show adjudicators "Reader A/B" instead of usernames.
    anonymise_readers = models.BooleanField(default=True)
    # Readers and adjudicators label text: the study date and the import's extra
    # columns (metadata) are shown to them only when an admin turns this on (dates
    # are identifiers under HIPAA Safe Harbor). Patient ids are never shown to them.
    readers_see_study_metadata = models.BooleanField(default=False)
    # Calibration reports: about one in `calibration_every` next-report requests
    # hands a reader a calibration report while a calibration period is open (0 = off).
    calibration_every = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "review settings"
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="review_settings_single_row"),
            models.CheckConstraint(condition=Q(reread_percent__lte=100), name="reread_percent_at_most_100"),
        ]


class Reread(models.Model):
    """A deliberate second read of a report by the same reader (intra-reader
    reliability). Kept apart from Annotation, which stays one per reader and
    report, so the first read is never overwritten. Pending until submitted."""

    report = models.ForeignKey("labeling.Report", on_delete=models.CASCADE, related_name="rereads")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rereads")
    labels = models.JSONField(null=True, blank=True)
    time_spent_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "reader"], name="one_reread_per_reader_per_report")]


class CalibrationReport(models.Model):
    """A gold report an admin chose to serve, unannounced, among normal work to
    measure readers against gold (`annotator.services.calibration`)."""

    report = models.OneToOneField("labeling.Report", on_delete=models.CASCADE, related_name="calibration")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    marked_at = models.DateTimeField(auto_now_add=True)
    # False once an admin takes it out of calibration (its reads stay measured).
    is_active = models.BooleanField(default=True)


class Flag(models.Model):
    """A reader's objection to a report. While unresolved, the report leaves
    queues, gold and training (`annotator.selectors.flagged_report_ids`)."""

    class Reason(models.TextChoices):
        NOT_CXR = "not_cxr", "Not a chest X-ray report"
        TRUNCATED = "truncated", "Truncated"
        IDENTIFYING = "identifying", "Contains identifying details"
        OTHER = "other", "Other"

    class Resolution(models.TextChoices):
        OPEN = "", "Open"
        KEEP = "keep", "Keep the report (flag dismissed)"
        EXCLUDE = "exclude", "Exclude the report for good"

    report = models.ForeignKey("labeling.Report", on_delete=models.CASCADE, related_name="flags")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flags_raised")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="flags_resolved"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["resolution", "report"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolution="", resolved_at__isnull=True) | (~Q(resolution="") & Q(resolved_at__isnull=False)),
                name="flag_resolution_has_time",
            ),
        ]


class GuidelineVersion(models.Model):
    """One version of the labelling guideline of one observation. Never edited:
    an edit adds the next version; the highest version is current."""

    observation = models.CharField(max_length=64)  # Observation value (CheXpert column name)
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["observation", "-version"]
        constraints = [models.UniqueConstraint(fields=["observation", "version"], name="one_guideline_per_observation_version")]


class ReportPriority(models.Model):
    """Queue-order keys of a report, derived from its machine predictions and
    recomputed when the rule version or the active model changes."""

    report = models.OneToOneField("labeling.Report", on_delete=models.CASCADE, primary_key=True, related_name="priority")
    # Which predictions these keys came from: "<rules version>|<model version id or ->".
    basis = models.CharField(max_length=220, db_index=True)
    # Observations where the rule and model labels differ (0 without a model).
    disagreement = models.PositiveSmallIntegerField(default=0)
    # Lowest, over observations, of the model's max class probability (1.0 without a model).
    confidence = models.FloatField(default=1.0)
    # False once the report cannot be handed out again (k submitted reads, gold,
    # or flagged), so the queue walks only open reports in priority order instead
    # of stepping past every finished one. Never False for a report that still
    # needs reads: assignment recounts under a row lock anyway. The basis includes
    # k, so changing k recomputes it.
    is_open = models.BooleanField(default=True)
    # Whether the latest rules and the active model label the report differently
    # (any observation); None when it lacks either's labels. The reports list's
    # `disagreement` filter is an index scan on this instead of comparing 14 JSON
    # values per report per request.
    rules_vs_model = models.BooleanField(null=True, default=None)
    # The report's place in the "random" queue order: a fixed pseudo-random
    # permutation of report ids (`report_random_key`), so the order is an index
    # walk (ORDER BY random() sorted every open report per request) and the same
    # on every request.
    random_key = models.IntegerField(default=0)
    # The newest prediction id that existed when these keys were computed: predictions
    # added since (a model labelling new reports) send their reports' rows back to
    # `report_priorities_refresh` without a change of basis.
    predictions_seen = models.BigIntegerField(default=0, db_index=True)

    class Meta:
        indexes = [
            # Partial indexes: the queue walks open reports in priority order
            # (Django renders `is_open=True` as a bare column, which SQLite can
            # match against a partial index but not against a leading index column).
            models.Index(fields=["-disagreement", "confidence", "report"], condition=Q(is_open=True), name="priority_open_disagree_idx"),
            models.Index(fields=["confidence", "report"], condition=Q(is_open=True), name="priority_open_uncertain_idx"),
            models.Index(fields=["random_key", "report"], condition=Q(is_open=True), name="priority_open_random_idx"),
            models.Index(fields=["rules_vs_model", "report"], name="priority_rules_vs_model_idx"),
        ]


class RefusedGoldWrite(models.Model):
    """An attempt to write gold outside the workflow (a report not awaiting
    adjudication, or one the user reads or holds): who, which report, why, when.
    Append-only by use (written only by `annotator.services.gold`); shown in the
    audit history."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, blank=True)
    report_id = models.BigIntegerField(db_index=True)
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.username} refused on report {self.report_id}: {self.reason}"
