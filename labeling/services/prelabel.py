"""Pre-labelling newly imported reports with the machine labelers."""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app
from django.conf import settings
from django.db import transaction

from labeling.services.predictions import rule_predictions_create


def new_reports_prelabel(*, report_ids: Sequence[int], inline: bool | None = None) -> str:
    """Give new reports their machine labels.

    Small imports are rule-labelled here and now (a few hundred reports/s), so
    the review UI shows evidence at once; larger ones are queued as a task on
    the `default` queue. The active model's labels always come from a `gpu`
    worker (sent by name: labeling does not import ml_worker). Returns a
    human-readable summary.
    """
    from labeling.tasks import rule_predictions_task  # here: labeling.tasks imports this module

    if not report_ids:
        return "no new reports to label"
    if inline is None:
        inline = len(report_ids) <= settings.CHEXGOLD_INLINE_LABEL_LIMIT
    ids = list(report_ids)
    if inline:
        written = rule_predictions_create(report_ids=ids)
        message = f"rule labels stored for {written} report(s)"
    else:
        transaction.on_commit(lambda: rule_predictions_task.delay(None))
        message = f"rule labelling of {len(ids)} report(s) queued"
    transaction.on_commit(
        lambda: current_app.send_task("ml_worker.tasks.model_predictions_missing_task", queue="gpu")
    )
    return message
