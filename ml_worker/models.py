"""Training runs. Model versions live in `labeling` (predictions point to them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import GoldLabel, ModelVersion


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Stage(models.TextChoices):
        SILVER = "silver", "Silver (rule labels)"
        GOLD = "gold", "Gold (adjudicated labels)"

    stage = models.CharField(max_length=8, choices=Stage.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    config = models.JSONField(default=dict, blank=True)  # ml_worker.ml.config.TrainingConfig as a dict
    base_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    produced_version = models.OneToOneField(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_run"
    )
    # Exactly which gold rows were used: an automatic frozen snapshot.
    gold_labels = models.ManyToManyField(GoldLabel, blank=True, related_name="training_runs")
    data_summary = models.JSONField(default=dict, blank=True)  # counts per split
    progress = models.JSONField(default=dict, blank=True)  # stage, epoch, step, loss, val score
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Times the stalled-run sweeper queued this run again after its worker was lost
    # (it resumes from its last completed epoch); at MAX_RESUMES the next stall fails it.
    resume_count = models.PositiveSmallIntegerField(default=0)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=16, default="manual")  # manual | periodic | demo
    celery_task_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one run in progress at a time (a GPU fleet trains one model).
            models.UniqueConstraint(
                fields=["stage"],
                condition=Q(status__in=["queued", "running"]),
                name="one_open_training_run_per_stage",
            ),
        ]

    def __str__(self) -> str:
        return f"training run {self.id} ({self.stage}, {self.status})"
