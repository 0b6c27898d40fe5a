"""Withdrawing an import batch: an admin takes a batch of reports back out.

Nothing is deleted. The batch records who withdrew it, when and why (its
history is audited); its reports are marked `Report.is_withdrawn`, which every
queue, statistic, export, gold-set freeze and training set filters out, like a
flagged report. Gold labels on them stay in the history and in the gold-set
versions frozen before; the annotator side (`annotator.services.gold.import_batch_withdraw`)
freezes a new gold-set version without them. Model versions trained on gold of
these reports say so on their model card (`withdrawn_training_data`).

Call `import_batch_withdraw` of annotator (the whole withdrawal); this module is
its labeling half, which may not import annotator."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.utils import timezone

from api.errors import DomainError, NotFound
from labeling.models import ImportBatch, ModelVersion, Report

MAX_REASON = 2000


class ImportWithdrawError(DomainError):
    http_status = 409
    code = "conflict"


@dataclass
class ImportWithdrawal:
    batch: ImportBatch
    reports: int = 0
    model_versions: list[str] = field(default_factory=list)  # whose model card now names the withdrawal
    gold_version: str | None = None  # set by annotator: the gold-set version frozen without the reports

    @property
    def message(self) -> str:
        text = f"Withdrew import {self.batch.id} ({self.batch.filename}): {self.reports:,} report(s) left the queues, statistics and exports"
        if self.gold_version:
            text += f"; gold-set version {self.gold_version} frozen without them"
        if self.model_versions:
            text += f"; model card noted on {', '.join(self.model_versions)}"
        return text


def import_batch_reports_withdraw(*, batch_id: int, user: User | None, reason: str = "") -> ImportWithdrawal:
    """Mark batch `batch_id` and its reports withdrawn and note it on the model
    cards of the versions trained on their gold. Call inside a transaction
    (holds the batch's row lock). Raises NotFound for an unknown batch and
    ImportWithdrawError when it is already withdrawn or still importing."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ImportWithdrawError(f"The reason is longer than {MAX_REASON} characters.")
    batch = ImportBatch.objects.select_for_update().filter(id=batch_id).first()
    if batch is None:
        raise NotFound(f"No import batch {batch_id}.")
    if batch.withdrawn_at is not None:
        raise ImportWithdrawError(f"Import {batch.id} was already withdrawn on {batch.withdrawn_at:%Y-%m-%d %H:%M} UTC.")
    if batch.status in (ImportBatch.Status.PENDING, ImportBatch.Status.VALIDATING, ImportBatch.Status.IMPORTING):
        raise ImportWithdrawError(f"Import {batch.id} is still {batch.status}; withdraw it when it has finished.")
    now = timezone.now()
    batch.withdrawn_at = now
    batch.withdrawn_by = user if user is not None and user.is_authenticated else None
    batch.withdraw_reason = reason
    batch._history_user = batch.withdrawn_by  # type: ignore[attr-defined]  # the audit entry's author (django-simple-history)
    batch.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
    result = ImportWithdrawal(batch=batch)
    result.reports = Report.objects.filter(import_batch=batch, is_withdrawn=False).update(is_withdrawn=True)
    note = {
        "import_batch": batch.id, "filename": batch.filename, "reports": result.reports,
        "withdrawn_at": now.isoformat(), "withdrawn_by": batch.withdrawn_by.get_username() if batch.withdrawn_by else None, "reason": reason,
    }
    # The training run's gold labels (ml_worker.TrainingRun.gold_labels) name the reports each version learned from.
    trained = ModelVersion.objects.filter(training_run__gold_labels__report__import_batch=batch).values_list("id", flat=True)
    for version in ModelVersion.objects.select_for_update().filter(id__in=set(trained)).order_by("id"):
        card = dict(version.model_card or {})
        card["withdrawn_training_data"] = [*card.get("withdrawn_training_data", []), note]
        version.model_card = card
        version._history_user = batch.withdrawn_by  # type: ignore[attr-defined]
        version.save(update_fields=["model_card"])  # audited (ModelVersion history)
        result.model_versions.append(version.name)
    return result

