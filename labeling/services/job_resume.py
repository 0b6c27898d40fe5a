"""Finding and resuming long jobs whose Celery message was lost.

The SQLite broker does not redeliver a message whose worker was killed, and
Redis only does after its visibility timeout; so the state of long jobs lives
in the database and this service, run by beat and when a worker starts, puts
them back on the queue:
  - import batches left pending / validating / importing for longer than
    CHEXGOLD_STALLED_IMPORT_MINUTES (an import writes in one transaction, so a
    killed one left nothing behind and simply runs again; a batch that is
    still running elsewhere is protected by the unique external id and its
    task's status check);
  - rule labels missing for any report (chunked and idempotent);
  - the active model's labels missing for any report (sent by name to `gpu`).

This module is the one owner of resuming those jobs. Training runs are the
exception, and only they: their watchdog is
`ml_worker.services.training.training_runs_stalled_fail` (beat, `default`
queue), because only ml_worker knows a run's state (labeling may not import
it). A run whose worker died is queued again once and continues from the
resumable state of its last completed epoch (`<CHEXGOLD_MODEL_DIR>/runs/<run
id>/resume/`); a second stall fails it. Nothing here touches training runs, and
the watchdog resumes nothing else. A silver run rule-labels the reports it
lacks labels for itself (`silver_rule_labels_complete`), so it never waits for
this service.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.models import ImportBatch
from labeling.services.predictions import rule_predictions_create

logger = logging.getLogger(__name__)

OPEN_IMPORT_STATUSES = (ImportBatch.Status.PENDING, ImportBatch.Status.VALIDATING, ImportBatch.Status.IMPORTING)


def import_batches_stalled(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Ids of uploaded batches still open after `older_than` (default: the setting)."""
    if older_than is None:
        older_than = dt.timedelta(minutes=settings.CHEXGOLD_STALLED_IMPORT_MINUTES)
    cutoff = timezone.now() - older_than
    return list(
        ImportBatch.objects.filter(status__in=OPEN_IMPORT_STATUSES)
        .exclude(stored_path="")
        .filter(Q(started_at__lte=cutoff) | Q(started_at__isnull=True, created_at__lte=cutoff))
        .order_by("id")
        .values_list("id", flat=True)
    )


def import_batches_stalled_requeue(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Queue the import task again for each stalled batch (after commit). The
    batch's clock restarts so it is not queued twice before the task runs."""
    from labeling.tasks import report_import_task  # here: labeling.tasks imports this module

    ids = import_batches_stalled(older_than=older_than)
    for batch_id in ids:
        claimed = ImportBatch.objects.filter(id=batch_id, status__in=OPEN_IMPORT_STATUSES).update(
            status=ImportBatch.Status.PENDING, started_at=timezone.now(), message="re-queued after its job was lost"
        )
        if claimed:
            transaction.on_commit(partial(report_import_task.delay, batch_id))
            logger.warning("import batch %s was stalled; queued again", batch_id)
    return ids


def jobs_resume(*, older_than: dt.timedelta | None = None) -> dict[str, object]:
    """Resume every kind of long job: stalled imports, missing rule labels,
    missing labels of the active model. Idempotent; safe to run any time."""
    requeued = import_batches_stalled_requeue(older_than=older_than)
    rules_written = rule_predictions_create(report_ids=None)
    current_app.send_task("ml_worker.tasks.model_predictions_missing_task", queue="gpu")
    return {"imports_requeued": requeued, "rule_labels_written": rules_written}
