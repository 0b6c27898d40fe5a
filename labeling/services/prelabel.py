"""Pre-labelling newly imported reports with the machine labelers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from celery import current_app
from django.db import transaction

from labeling.services.predictions import rule_predictions_create

REPORT_PRIORITIES_REFRESH_TASK = "annotator.tasks.report_priorities_refresh_task"


def new_reports_prelabel(
    *,
    report_ids: Sequence[int],
    inline: bool,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> str:
    """Give new reports their machine labels.

    `inline`: rule-label them here and now (several thousand reports/s on one core;
    `progress(done, total)` after each chunk), so the reports are ready for the
    review page and for silver training when this returns: what the
    `import_reports` command does; `workers` rule-labelling processes
    (default ``CHEXGOLD_RULES_WORKERS``). Otherwise queue the rule labelling as a task
    on the `default` queue (uploads: their import already runs on a worker).
    The active model's labels always come from a `gpu` worker (sent by name:
    labeling does not import ml_worker). Returns a human-readable summary.
    """
    from labeling.tasks import rule_predictions_task  # here: labeling.tasks imports this module

    if not report_ids:
        return "no new reports to label"
    ids = list(report_ids)
    # The review queue's order for the new reports, computed once by a worker rather
    # than on readers' requests (sent by name: labeling does not import annotator).
    # Queued first: new reports have no model labels yet, so their priority does not
    # wait for the rule labels, and readers get them sooner.
    transaction.on_commit(lambda: current_app.send_task(REPORT_PRIORITIES_REFRESH_TASK))
    if inline:
        written = rule_predictions_create(report_ids=ids, progress=progress, workers=workers)
        message = f"rule labels stored for {written} report(s)"
    else:
        transaction.on_commit(lambda: rule_predictions_task.delay(None))
        message = f"rule labelling of {len(ids)} report(s) queued"
    transaction.on_commit(
        lambda: current_app.send_task("ml_worker.tasks.model_predictions_missing_task", queue="gpu")
    )
    return message
