"""The flagged state of a report, as labeling and ml_worker see it."""

from __future__ import annotations

from labeling.models import Report


def report_flagged_set(*, report_id: int, flagged: bool) -> None:
    """Record whether a report is out of queues, gold and training.

    Called by annotator's flag services (which own the flags themselves) in the
    same transaction as the flag change; labeling and ml_worker filter on
    `Report.is_flagged` without importing annotator.
    """
    Report.objects.filter(id=report_id).update(is_flagged=flagged)
