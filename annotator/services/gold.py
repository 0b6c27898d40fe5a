"""Every write of gold: by agreement of k reads, by adjudication, frozen gold-set versions.

Gold is written only here (one home); `labeling` owns the tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from annotator import selectors
from annotator.errors import AdjudicationRefused, GoldConflict, ReviewError
from annotator.models import RefusedGoldWrite, ReportPriority
from annotator.services.base import full_labels, report_lock
from api.compiled_queries import CompiledQuery
from labeling.models import Annotation, GoldLabel, GoldSetMembership, GoldSetVersion, LabelImport, Report
from labeling.observations import OBSERVATION_NAMES, labels_from_mapping
from labeling.selectors import runtime_settings_get
from labeling.services.withdraw import (
    ImportRestore,
    ImportWithdrawal,
    import_batch_reports_restore,
    import_batch_reports_withdraw,
)
from labeling.splits import gold_split_for


# --- gold ------------------------------------------------------------------------------
def _gold_split_assign(report: Report) -> None:
    # Called when a report becomes gold: it leaves the queue order too.
    ReportPriority.objects.filter(report_id=report.id).update(is_open=False)
    # Once only: a report never moves between train and validation.
    Report.objects.filter(id=report.id, gold_split="").update(
        gold_split=gold_split_for(patient_id=report.patient_id, external_id=report.external_id)  # labeling.splits
    )


# Asked after every submit: compiled once per process (api.compiled_queries).
_SUBMITTED_READS = CompiledQuery("annotator.submitted_reads_of_report", lambda slots: Annotation.objects.filter(
    report_id=slots.int("report_id"), status=Annotation.Status.SUBMITTED, is_calibration=False))


def report_gold_by_agreement_try(*, report: Report, checked_open: bool = False) -> GoldLabel | None:
    """Make the report gold when it has k submitted reads that agree on all 14
    values (blank != negative). Call inside a transaction holding the report lock.
    `checked_open`: the caller found, under that lock, that the report is
    unflagged and has no current gold (saves asking twice)."""
    if not checked_open and (
        GoldLabel.objects.filter(report=report, is_current=True).exists() or selectors.report_is_flagged(report_id=report.id)
    ):
        return None
    annotations = _SUBMITTED_READS.run(report_id=report.pk)
    if len(annotations) < runtime_settings_get().reads_per_report:
        return None
    if selectors.conflicting_observations(a.labels for a in annotations):
        return None
    gold = GoldLabel.objects.create(report=report, labels=labels_from_mapping(annotations[0].labels), method=GoldLabel.Method.AGREEMENT)
    gold.annotations.set(annotations)
    _gold_split_assign(report)
    return gold


def gold_overrides_all_reads(*, labels: Mapping[str, str], reads: Sequence[Mapping[str, str]]) -> list[str]:
    """Observations (CheXpert order) where the chosen gold value differs from every
    read's value (blank != negative): overriding all readers needs a rationale."""
    if not reads:
        return []
    # Both sides are stored as full, normalised label dicts (`full_labels`); a missing key is blank.
    return [name for name in OBSERVATION_NAMES
            if all(read.get(name, "") != labels.get(name, "") for read in reads)]


def gold_adjudicate(
    *,
    report: Report,
    adjudicator: User,
    labels: Mapping[str, str],
    rationale: str = "",
    expected_current_gold_id: int | None,
) -> GoldLabel:
    """Write the adjudicated gold labels of a report awaiting adjudication, or a
    correction that supersedes the current gold row (a new gold version, kept in
    the history). Allowed as `selectors.adjudication_access` says; otherwise the
    attempt is recorded and AdjudicationRefused (404) raised, nothing written.
    Raises GoldConflict when the current gold row is not `expected_current_gold_id`
    (someone resolved it meanwhile). Raises ReviewError (400) when the labels
    override every reader on some observation and `rationale` is blank."""
    values = full_labels(labels)
    refusal = ""
    with transaction.atomic():
        report = report_lock(report.id)
        access = selectors.adjudication_access(user=adjudicator, report=report)
        if not access.allowed:
            refusal = access.reason
        else:
            current = GoldLabel.objects.select_for_update().filter(report=report, is_current=True).first()
            if (current.id if current else None) != expected_current_gold_id:
                raise GoldConflict("Someone else resolved this report while you were working. Reload to see the current gold labels.")
            reads = list(Annotation.objects.filter(report=report, status=Annotation.Status.SUBMITTED, is_calibration=False))
            overridden = gold_overrides_all_reads(labels=values, reads=[a.labels for a in reads])
            if overridden and not rationale.strip():
                raise ReviewError(
                    "Give a rationale: your value differs from every reader's on " + ", ".join(overridden) + "."
                )
            if current is not None:
                current.is_current = False
                current.save(update_fields=["is_current"])
            gold = GoldLabel.objects.create(
                report=report, labels=values, method=GoldLabel.Method.ADJUDICATED, adjudicator=adjudicator,
                rationale=rationale.strip(), supersedes=current,
            )
            gold.annotations.set(reads)
            _gold_split_assign(report)
    if refusal:
        # Recorded after the transaction, which wrote nothing.
        RefusedGoldWrite.objects.create(user=adjudicator, username=adjudicator.get_username(), report_id=report.id, reason=refusal)
        raise AdjudicationRefused(f"No report {report.id} awaits your adjudication ({refusal}).")
    return gold


@dataclass(frozen=True)
class GoldImportCounts:
    created: int = 0  # reports that had no current gold
    replaced: int = 0  # current gold with other values, superseded (replace=True)
    unchanged: int = 0  # current gold with the same values: nothing written


@transaction.atomic
def gold_import(*, rows: Sequence[tuple[int, Mapping[str, str]]], label_import: LabelImport, replace: bool = False) -> GoldImportCounts:
    """Write gold labels imported from a file (`annotator.services.label_import`
    validates the file first): for each (report id, 14 labels) a gold row with
    method "imported" pointing to `label_import` (file, who, when).

    Imported gold supersedes nothing silently: a report whose current gold has
    the same values is left alone (unchanged); one whose current gold differs is
    superseded, like an adjudicator's correction, only with `replace`, and
    otherwise raises GoldConflict and nothing is written (someone wrote gold
    between the validation and this write)."""
    created = replaced = unchanged = 0
    for report_id, labels in rows:
        values = full_labels(labels)
        report = report_lock(report_id)
        current = GoldLabel.objects.select_for_update().filter(report=report, is_current=True).first()
        if current is not None and labels_from_mapping(current.labels) == values:
            unchanged += 1
            continue
        if current is not None:
            if not replace:
                raise GoldConflict(f"Report {report.external_id} got other gold labels meanwhile; nothing was imported.")
            current.is_current = False
            current.save(update_fields=["is_current"])
            replaced += 1
        else:
            created += 1
        GoldLabel.objects.create(report=report, labels=values, method=GoldLabel.Method.IMPORTED, supersedes=current,
                                 label_import=label_import)
        _gold_split_assign(report)
    return GoldImportCounts(created=created, replaced=replaced, unchanged=unchanged)


@transaction.atomic
def gold_set_version_freeze(*, name: str, user: User | None, note: str = "") -> GoldSetVersion:
    """Snapshot the current gold set (without flagged reports) under `name`."""
    name = name.strip()
    if not name:
        raise ReviewError("Give the version a name.")
    if GoldSetVersion.objects.filter(name=name).exists():
        raise ReviewError(f"A gold-set version named {name!r} already exists.")
    version = GoldSetVersion.objects.create(name=name, note=note, created_by=user)
    rows = (
        GoldLabel.objects.filter(is_current=True)
        .filter(report__is_flagged=False, report__is_withdrawn=False)
        .values_list("id", "report_id")
    )
    batch: list[GoldSetMembership] = []
    for gold_id, report_id in rows.iterator(chunk_size=5000):
        batch.append(GoldSetMembership(version=version, report_id=report_id, gold_label_id=gold_id))
        if len(batch) >= 5000:
            GoldSetMembership.objects.bulk_create(batch)
            batch = []
    GoldSetMembership.objects.bulk_create(batch)
    return version


# --- withdrawing an import batch --------------------------------------------------------
@transaction.atomic
def import_batch_withdraw(*, batch_id: int, user: User | None, reason: str = "") -> ImportWithdrawal:
    """An admin withdraws import batch `batch_id` (the API, the Imports page):
    `labeling.services.withdraw` marks the batch and its reports withdrawn (out of
    the queues, statistics and exports) and notes it on model cards; then, when
    any of those reports had current gold, a gold-set version ``withdraw-<id>`` is
    frozen without them. Their gold rows stay (history, earlier versions).
    Raises NotFound or `ImportWithdrawError`."""
    result = import_batch_reports_withdraw(batch_id=batch_id, user=user, reason=reason)
    had_gold = GoldLabel.objects.filter(is_current=True, report__import_batch_id=batch_id).exists()
    if had_gold:
        version = gold_set_version_freeze(
            name=_free_version_name(f"withdraw-{batch_id}"), user=user,
            note=f"After withdrawing import {batch_id} ({result.batch.filename}): its {result.reports} report(s) left the gold set.",
        )
        result.gold_version = version.name
    result.batch.message = (result.batch.message + "\n" if result.batch.message else "") + result.message
    result.batch.save(update_fields=["message"])
    return result


def _free_version_name(name: str) -> str:
    """`name`, or `name-2`, `name-3`... when a gold-set version has it (a batch withdrawn and restored twice)."""
    candidate, suffix = name, 1
    while GoldSetVersion.objects.filter(name=candidate).exists():
        suffix += 1
        candidate = f"{name}-{suffix}"
    return candidate


@transaction.atomic
def import_batch_restore(*, batch_id: int, user: User | None) -> ImportRestore:
    """An admin undoes the withdrawal of import batch `batch_id` (the API, the Imports page):
    `labeling.services.withdraw` brings its reports back into the queues, statistics and
    exports and notes it on the model cards that noted the withdrawal; then, when any of
    those reports has gold (its rows were never changed, so it is current again), a
    gold-set version ``restore-<id>`` is frozen with them. Nothing is deleted; the
    withdrawal stays in the audited history. Raises NotFound or `ImportWithdrawError`."""
    result = import_batch_reports_restore(batch_id=batch_id, user=user)
    if GoldLabel.objects.filter(is_current=True, report__import_batch_id=batch_id).exists():
        version = gold_set_version_freeze(
            name=_free_version_name(f"restore-{batch_id}"), user=user,
            note=f"After restoring import {batch_id} ({result.batch.filename}): its {result.reports} report(s) are back in the gold set.",
        )
        result.gold_version = version.name
    result.batch.message = (result.batch.message + "\n" if result.batch.message else "") + result.message
    result.batch.save(update_fields=["message"])
    return result
