"""Withdrawing an import batch: an admin takes a batch of reports back out.

Nothing is deleted. The batch records who withdrew it, when and why (its
history is audited); its reports are marked `Report.is_withdrawn`, which every
queue, statistic, export, gold-set freeze and training set filters out, like a
flagged report. Gold labels on them stay in the history and in the gold-set
versions frozen before; the annotator side (`annotator.services.gold.import_batch_withdraw`)
freezes a new gold-set version without them. Every model version that learned
from these reports says so on its model card (`withdrawn_training_data`): gold
runs that trained on their gold, silver runs that trained on every imported
report while the batch was in, and versions fine-tuned from either.

A withdrawal can be undone (`import_batch_reports_restore`): the reports come
back, their gold (never touched) is current again in a new frozen gold-set
version, the model cards gain a `restored_training_data` note; the withdrawal
stays in the batch's audited history.

Call `import_batch_withdraw` / `import_batch_restore` of annotator (the whole
operation); this module is their labeling half, which may not import annotator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
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
    for version, basis in _versions_trained_on(batch, before=now):
        card = dict(version.model_card or {})
        card["withdrawn_training_data"] = [*card.get("withdrawn_training_data", []), {**note, "trained_on": basis}]
        version.model_card = card
        version._history_user = batch.withdrawn_by  # type: ignore[attr-defined]
        version.save(update_fields=["model_card"])  # audited (ModelVersion history)
        result.model_versions.append(version.name)
    return result


def _withdrawn_periods(batch: ImportBatch, *, until: datetime) -> list[tuple[datetime, datetime]]:
    """When the batch was out before `until` (from its audited history): (withdrawn, restored) pairs."""
    periods: list[tuple[datetime, datetime]] = []
    out_since: datetime | None = None
    for record in batch.history.filter(history_date__lt=until).order_by("history_date", "history_id"):  # type: ignore[attr-defined]
        if record.withdrawn_at is not None and out_since is None:
            out_since = record.withdrawn_at
        elif record.withdrawn_at is None and out_since is not None:
            periods.append((out_since, record.history_date))
            out_since = None
    return periods


def _versions_trained_on(batch: ImportBatch, *, before: datetime) -> list[tuple[ModelVersion, str]]:
    """Model versions (row-locked, by id) that learned from the batch's reports, each with how:
    a gold run's gold labels (ml_worker.TrainingRun.gold_labels) name its reports; a silver run
    trains on every imported report's rule labels, so any silver run that started after the
    batch came in and while it was not withdrawn did; a version fine-tuned from one of those
    (its run's base version, transitively) did too."""
    basis: dict[int, str] = {}
    for version_id in ModelVersion.objects.filter(training_run__gold_labels__report__import_batch=batch).values_list("id", flat=True):
        basis[version_id] = "gold labels"
    silver = (ModelVersion.objects.filter(training_run__stage="silver")
              .filter(Q(training_run__started_at__gte=batch.created_at)
                      | Q(training_run__started_at=None, training_run__created_at__gte=batch.created_at))
              .values_list("id", "training_run__started_at", "training_run__created_at"))
    periods = _withdrawn_periods(batch, until=before)
    for version_id, started, created in silver:
        at = started or created
        if not any(out <= at < back for out, back in periods):
            basis.setdefault(version_id, "silver labels of every imported report")
    frontier = set(basis)
    while frontier:
        children = ModelVersion.objects.filter(training_run__base_version_id__in=frontier).exclude(id__in=basis)
        frontier = set()
        for child_id, parent in children.values_list("id", "training_run__base_version__name"):
            basis[child_id] = f"fine-tuned from {parent}"
            frontier.add(child_id)
    versions = ModelVersion.objects.select_for_update().filter(id__in=basis).order_by("id")
    return [(v, basis[v.id]) for v in versions]


@dataclass
class ImportRestore:
    batch: ImportBatch
    reports: int = 0
    model_versions: list[str] = field(default_factory=list)  # whose model card now notes the restore
    gold_version: str | None = None  # set by annotator: the gold-set version frozen with the reports back

    @property
    def message(self) -> str:
        text = (f"Restored import {self.batch.id} ({self.batch.filename}): {self.reports:,} report(s) are back in the "
                "queues, statistics and exports")
        if self.gold_version:
            text += f"; gold-set version {self.gold_version} frozen with their gold"
        if self.model_versions:
            text += f"; model card noted on {', '.join(self.model_versions)}"
        return text


def import_batch_reports_restore(*, batch_id: int, user: User | None) -> ImportRestore:
    """Undo the withdrawal of batch `batch_id`: its reports are no longer withdrawn, and the
    model cards that noted the withdrawal note the restore. The batch's withdrawal stays in
    its audited history (the change back is a new history row by `user`). Call inside a
    transaction (holds the batch's row lock). Raises NotFound for an unknown batch and
    ImportWithdrawError when it is not withdrawn."""
    batch = ImportBatch.objects.select_for_update().filter(id=batch_id).first()
    if batch is None:
        raise NotFound(f"No import batch {batch_id}.")
    if batch.withdrawn_at is None:
        raise ImportWithdrawError(f"Import {batch.id} is not withdrawn; there is nothing to restore.")
    actor = user if user is not None and user.is_authenticated else None
    note: dict[str, Any] = {
        "import_batch": batch.id, "filename": batch.filename, "withdrawn_at": batch.withdrawn_at.isoformat(),
        "restored_at": timezone.now().isoformat(), "restored_by": actor.get_username() if actor else None,
    }
    batch.withdrawn_at, batch.withdrawn_by, batch.withdraw_reason = None, None, ""
    batch._history_user = actor  # type: ignore[attr-defined]
    batch.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
    result = ImportRestore(batch=batch)
    result.reports = Report.objects.filter(import_batch=batch, is_withdrawn=True).update(is_withdrawn=False)
    for version in ModelVersion.objects.select_for_update().filter(model_card__has_key="withdrawn_training_data").order_by("id"):
        card = dict(version.model_card or {})
        if not any(n.get("import_batch") == batch.id for n in card.get("withdrawn_training_data", [])):
            continue
        card["restored_training_data"] = [*card.get("restored_training_data", []), {**note, "reports": result.reports}]
        version.model_card = card
        version._history_user = actor  # type: ignore[attr-defined]
        version.save(update_fields=["model_card"])
        result.model_versions.append(version.name)
    return result

