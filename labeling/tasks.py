"""Celery tasks of the `default` queue. Thin: parse ids, call a service."""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready

from labeling.models import ImportBatch
from labeling.services.job_resume import jobs_resume
from labeling.services.predictions import rule_predictions_create
from labeling.services.prelabel import new_reports_prelabel
from labeling.services.report_import import import_batch_mark_failed, report_import
from labeling.services.upload_store import upload_local_path

logger = logging.getLogger(__name__)


@shared_task(name="labeling.tasks.ping")
def ping(value: str = "pong") -> dict[str, str]:
    """Health check; reports which worker and queue served it."""
    return {"value": value, "queue": "default", "pid": str(os.getpid())}


@shared_task(name="labeling.tasks.report_import_task", acks_late=True)
def report_import_task(batch_id: int) -> dict[str, object]:
    batch = ImportBatch.objects.get(id=batch_id)
    if batch.status in (ImportBatch.Status.SUCCEEDED, ImportBatch.Status.FAILED):
        return {"status": batch.status}  # a redelivered message: already done
    try:
        with upload_local_path(batch.stored_path) as path:
            result = report_import(
                path=path,
                filename=batch.filename,
                batch=batch,
                progress=lambda p: ImportBatch.objects.filter(id=batch_id).update(progress=p),
            )
    except Exception as exc:  # the import rolled back; say so instead of a stack trace
        logger.exception("import %s crashed", batch_id)
        import_batch_mark_failed(batch_id=batch_id, message=f"import failed: {exc.__class__.__name__}: {exc}")
        raise
    if result.ok:
        new_reports_prelabel(report_ids=result.created_ids, inline=False)
    return {"status": result.batch.status, "created": len(result.created_ids), "errors": len(result.errors)}


@shared_task(name="labeling.tasks.rule_predictions_task", acks_late=True)
def rule_predictions_task(report_ids: list[int] | None = None) -> int:
    return rule_predictions_create(report_ids=report_ids)


@shared_task(name="labeling.tasks.jobs_resume_task", acks_late=True)
def jobs_resume_task() -> dict[str, object]:
    """Beat and worker start: re-queue stalled imports, finish missing rule and model labels."""
    return jobs_resume()


@worker_ready.connect
def _resume_jobs_on_worker_start(sender: object = None, **kwargs: object) -> None:
    # A worker that (re)starts finds the jobs a killed worker left behind.
    # Only `default` workers run it (the task routes there).
    jobs_resume_task.delay()
