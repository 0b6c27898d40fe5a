"""Importing prior labels from a file: as gold, as one reader's reads, or as an
external labeler's predictions. One service for the command, the Imports page
and the API (`import_labels`, `annotator.views.label_import`, `annotator.apis.LabelImportView`).

The whole file is validated first (`labeling.label_files` reads it; here every
row is matched to a stored report and checked against what is stored), every
bad row is reported by line and column, and nothing is written if any row is
bad. Importing the same file again changes nothing ("unchanged").

- Gold goes through `annotator.services.gold.gold_import` (the only writer of
  gold): method "imported", pointing to a `LabelImport` (file, who, when); a
  report whose current gold differs is an error unless `replace` (then the old
  row is superseded, like a correction). Every gold import that wrote something
  is frozen as a gold-set version named ``import-<id>``.
- Reads belong to a reader account (created with the reader role and no usable
  password when missing). They are submitted reads: they count towards k and
  agreement, and each report they complete goes through gold by agreement or
  waits for adjudication like any other read. A reader's existing read is never
  overwritten.
- Predictions are stored as source "external" with the labeler's name as
  version; the statistics page scores them beside the rules and the models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.services import reader_account_check, reader_account_get_or_create
from annotator import selectors
from annotator.errors import LabelImportInvalid, ReviewError
from annotator.services.assignment import priority_open_recompute
from annotator.services.base import report_lock
from annotator.services.gold import gold_import, gold_set_version_freeze, report_gold_by_agreement_try
from labeling.label_files import KEY_ID, ZERO_MEANS, LabelFile, LabelRow, label_file_read
from labeling.label_studio import FORMAT as LABEL_STUDIO
from labeling.label_studio import label_studio_file_read
from labeling.models import Annotation, GoldSetVersion, LabelImport, Reservation
from labeling.observations import OBSERVATION_NAMES, LabelDict
from labeling.report_files import RowError, text_sha256
from labeling.selectors import (
    current_gold_labels_of_reports,
    external_predictions_of_reports,
    report_ids_by_external_id,
    report_ids_by_text_sha256,
    runtime_settings_get,
)
from labeling.services.label_imports import label_import_finish, label_import_record
from labeling.services.predictions import external_predictions_store
from labeling.services.upload_validation import file_level_problems, upload_as_path

KINDS = tuple(LabelImport.Kind.values)
# "auto": CheXpert CSV or JSONL (`labeling.label_files`); "label-studio": a Label Studio JSON export
# (`labeling.label_studio`; rows are tasks, errors name the task's index as line).
FILE_FORMATS = ("auto", LABEL_STUDIO)
MAX_LABELER_NAME = 100
_IN_CHUNK = 900


@dataclass
class LabelImportResult:
    kind: str
    filename: str
    rows_read: int = 0
    created: int = 0
    replaced: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_import: LabelImport | None = None
    gold_version: str | None = None  # gold: the version frozen after the import
    reader: str | None = None
    reader_created: bool = False
    labeler: str | None = None
    became_gold: int = 0  # reads: reports that became gold by agreement
    awaiting_adjudication: int = 0  # reads: reports of this file now awaiting adjudication

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return self.label_import is not None

    @property
    def message(self) -> str:
        what = {"gold": "gold labels", "reads": f"reads of {self.reader}", "predictions": f"predictions of {self.labeler}"}[self.kind]
        head = f"{what} from {self.filename}: {self.rows_read:,} row(s) read"
        if not self.ok:
            return f"{head}; nothing was imported: {len(self.errors)} problem(s)"
        if not self.changed:
            return f"{head}; nothing changed: all {self.unchanged:,} unchanged"
        parts = [f"{self.created:,} new"]
        if self.kind == "gold":
            parts.append(f"{self.replaced:,} replaced")
        parts.append(f"{self.unchanged:,} unchanged")
        text = f"{head}; " + ", ".join(parts)
        if self.gold_version:
            text += f"; gold-set version {self.gold_version}"
        if self.reader_created:
            text += f"; created reader account {self.reader} (no password)"
        if self.kind == "reads":
            text += f"; {self.became_gold:,} report(s) became gold by agreement, {self.awaiting_adjudication:,} await adjudication"
        return text


@dataclass(frozen=True)
class _Planned:
    row: LabelRow
    report_id: int
    status: str  # "new", "replace" or "unchanged"


def _options_check(*, kind: str, reader: str | None, labeler: str | None, zero_means: str, replace: bool) -> str:
    """The reader's or labeler's name for `kind` (or ""); LabelImportInvalid for impossible options."""
    if kind not in KINDS:
        raise LabelImportInvalid(f"Import labels as one of: {', '.join(KINDS)}.")
    if zero_means not in ZERO_MEANS:
        raise LabelImportInvalid(f"zero_means must be one of: {', '.join(ZERO_MEANS)}.")
    reader, labeler = (reader or "").strip(), (labeler or "").strip()
    if replace and kind != "gold":
        raise LabelImportInvalid("replace applies to gold only: a reader's read and a labeler's prediction are never overwritten.")
    if kind == "reads":
        if labeler:
            raise LabelImportInvalid("A labeler name is for predictions; reads need a reader.")
        if not reader:
            raise LabelImportInvalid("Reads belong to a reader: give the reader's username.")
        return reader
    if kind == "predictions":
        if reader:
            raise LabelImportInvalid("A reader is for reads; predictions need a labeler name.")
        if not labeler or len(labeler) > MAX_LABELER_NAME or any(not c.isprintable() for c in labeler):
            raise LabelImportInvalid(f"Predictions need the labeler's name (1 to {MAX_LABELER_NAME} printable characters).")
        return labeler
    if reader or labeler:
        raise LabelImportInvalid("Gold has no reader or labeler name.")
    return ""


def _differences(old: LabelDict, new: LabelDict) -> str:
    return ", ".join(f"{n}: {old.get(n)} -> {new[n]}" for n in OBSERVATION_NAMES if old.get(n) != new[n])


def _match_reports(parsed: LabelFile, errors: list[RowError]) -> list[tuple[LabelRow, int]]:
    """Each row's report id; rows naming no report, or an ambiguous text, are errors."""
    by_id = report_ids_by_external_id(external_ids=[r.key for r in parsed.rows if r.key_kind == KEY_ID])
    by_text = report_ids_by_text_sha256(digests=[text_sha256(r.key) for r in parsed.rows if r.key_kind != KEY_ID])
    matched: list[tuple[LabelRow, int]] = []
    first_line: dict[int, int] = {}
    for row in parsed.rows:
        if row.key_kind == KEY_ID:
            report_id = by_id.get(row.key)
            if report_id is None:
                errors.append(RowError(row.line, f"no report with id {row.key!r} (import the reports first)", row.key_column))
                continue
        else:
            ids = by_text.get(text_sha256(row.key), [])
            if not ids:
                errors.append(RowError(row.line, "no stored report has exactly this text", row.key_column))
                continue
            if len(ids) > 1:
                errors.append(RowError(row.line, f"{len(ids)} stored reports have exactly this text: give an id column", row.key_column))
                continue
            report_id = ids[0]
        if report_id in first_line:
            errors.append(RowError(row.line, f"the same report as line {first_line[report_id]}", row.key_column))
            continue
        first_line[report_id] = row.line
        matched.append((row, report_id))
    return matched


def _plan(*, kind: str, name: str, reader_user: User | None, replace: bool, matched: list[tuple[LabelRow, int]],
          errors: list[RowError]) -> list[_Planned]:
    """Compare each row with what is stored: new, replace (gold), unchanged, or an error."""
    report_ids = [rid for _, rid in matched]
    drafts: set[int] = set()
    if kind == "gold":
        stored = current_gold_labels_of_reports(report_ids=report_ids)
    elif kind == "predictions":
        stored = external_predictions_of_reports(labeler=name, report_ids=report_ids)
    else:
        stored = {}
        if reader_user is not None:
            for start in range(0, len(report_ids), _IN_CHUNK):
                rows = Annotation.objects.filter(reader=reader_user, report_id__in=report_ids[start : start + _IN_CHUNK])
                for rid, labels, status in rows.values_list("report_id", "labels", "status"):
                    if status == Annotation.Status.SUBMITTED:
                        stored[rid] = labels
                    else:
                        drafts.add(rid)
    planned: list[_Planned] = []
    for row, report_id in matched:
        old = stored.get(report_id)
        if report_id in drafts:
            errors.append(RowError(row.line, f"{name} has a draft read of this report in progress; submit or discard it first", row.key_column))
        elif old is None:
            planned.append(_Planned(row, report_id, "new"))
        elif {n: old.get(n) for n in OBSERVATION_NAMES} == row.labels:
            planned.append(_Planned(row, report_id, "unchanged"))
        elif kind == "gold" and replace:
            planned.append(_Planned(row, report_id, "replace"))
        elif kind == "gold":
            errors.append(RowError(row.line, f"the report's current gold differs ({_differences(old, row.labels)}); "
                                             "import with replace to supersede it", row.key_column))
        elif kind == "reads":
            errors.append(RowError(row.line, f"{name} already submitted other labels for this report "
                                             f"({_differences(old, row.labels)}); a read is never overwritten", row.key_column))
        else:
            errors.append(RowError(row.line, f"labeler {name!r} already has other labels for this report "
                                             f"({_differences(old, row.labels)}); import under a new name", row.key_column))
    return planned


def label_file_import(
    *,
    path: str,
    kind: str,
    user: AbstractBaseUser | None,
    filename: str | None = None,
    reader: str | None = None,
    labeler: str | None = None,
    zero_means: str = "negative",
    replace: bool = False,
    file_format: str = "auto",
) -> LabelImportResult:
    """Validate the label file at `path`, then write it as `kind` ("gold", "reads"
    of `reader`, "predictions" of `labeler`) in one transaction.

    `zero_means` "blank" reads 0 cells as blank (positive-only references).
    Returns the result: `errors` (by line; then nothing was written), or the
    counts and the `LabelImport` record (None when every row was unchanged).
    Raises LabelImportInvalid for impossible options and the account errors of
    `accounts.services.reader_account_check` for a bad reader name."""
    name = _options_check(kind=kind, reader=reader, labeler=labeler, zero_means=zero_means, replace=replace)
    _file_format_check(file_format)
    filename = os.path.basename(filename or path)
    reader_user = reader_account_check(username=name) if kind == "reads" else None
    result = LabelImportResult(kind=kind, filename=filename, reader=name if kind == "reads" else None,
                               labeler=name if kind == "predictions" else None)
    if file_format == LABEL_STUDIO:
        parsed = label_studio_file_read(path, kind=kind, reader=name, zero_means=zero_means)
    else:
        parsed = label_file_read(path, display_name=filename, zero_means=zero_means)
    errors = list(parsed.errors)
    result.rows_read = len(parsed.rows)
    matched = _match_reports(parsed, errors)
    planned = _plan(kind=kind, name=name, reader_user=reader_user, replace=replace, matched=matched, errors=errors)
    if zero_means == "negative" and parsed.looks_positive_only:
        result.notes.append("Every cell is 1 or 0: if this is a positive-only reference (0 = not coded, e.g. Open-i's "
                            "labels.csv), import it with zero_means blank.")
    result.unchanged = sum(1 for p in planned if p.status == "unchanged")
    if errors:
        result.errors = sorted(errors, key=lambda e: e.line)
        return result
    writes = [p for p in planned if p.status != "unchanged"]
    if not writes:
        return result
    result.created = sum(1 for p in writes if p.status == "new")
    result.replaced = sum(1 for p in writes if p.status == "replace")
    with transaction.atomic():
        record = label_import_record(
            filename=filename, kind=kind, name=name, zero_means=zero_means, replace=replace, user=_user_or_none(user),
            rows_read=result.rows_read, rows_created=result.created, rows_replaced=result.replaced, rows_unchanged=result.unchanged,
        )
        result.label_import = record
        version: GoldSetVersion | None = None
        if kind == "gold":
            counts = gold_import(rows=[(p.report_id, p.row.labels) for p in writes], label_import=record, replace=replace)
            if (counts.created, counts.replaced) != (result.created, result.replaced):  # changed since validated
                raise ReviewError("The gold set changed while the file was imported; nothing was imported. Import it again.")
            version = gold_set_version_freeze(name=_version_name(record), user=_user_or_none(user),
                                              note=f"After importing gold labels from {filename} (label import {record.id}).")
            result.gold_version = version.name
        elif kind == "reads":
            account, result.reader_created = reader_account_get_or_create(username=name)
            result.became_gold = _reads_write(reader=account, rows=[(p.report_id, p.row.labels) for p in writes], record=record)
            awaiting = selectors.reports_awaiting_adjudication()
            ids = [p.report_id for p in writes]
            result.awaiting_adjudication = sum(
                awaiting.filter(id__in=ids[start : start + _IN_CHUNK]).count() for start in range(0, len(ids), _IN_CHUNK)
            )
        else:
            external_predictions_store(label_import=record, labeler=name, rows=[(p.report_id, p.row.labels) for p in writes])
        label_import_finish(label_import=record, message=result.message, gold_set_version=version)
    return result


def label_upload_import(
    *, upload: UploadedFile, kind: str, user: AbstractBaseUser | None, reader: str | None = None, labeler: str | None = None,
    zero_means: str = "negative", replace: bool = False, file_format: str = "auto",
) -> LabelImportResult:
    """`label_file_import` for an uploaded file (the Imports page and the API),
    after the upload checks every report upload gets (type, content type, size)."""
    name = os.path.basename(upload.name or "labels")
    _options_check(kind=kind, reader=reader, labeler=labeler, zero_means=zero_means, replace=replace)
    _file_format_check(file_format)
    # A Label Studio export is one JSON document (.json), which report uploads do not accept.
    checked_name = name[:-5] + ".jsonl" if file_format == LABEL_STUDIO and name.lower().endswith(".json") else name
    problems = file_level_problems(name=checked_name, size=upload.size, content_type=upload.content_type or "")
    if problems:
        return LabelImportResult(kind=kind, filename=name, errors=problems, reader=reader if kind == "reads" else None,
                                 labeler=labeler if kind == "predictions" else None)
    with upload_as_path(upload) as path:
        return label_file_import(path=path, filename=name, kind=kind, user=user, reader=reader, labeler=labeler,
                                 zero_means=zero_means, replace=replace, file_format=file_format)


def _file_format_check(file_format: str) -> None:
    if file_format not in FILE_FORMATS:
        raise LabelImportInvalid(f"The label file's format must be one of: {', '.join(FILE_FORMATS)}.")


def _user_or_none(user: AbstractBaseUser | None) -> User | None:
    return user if isinstance(user, User) else None


def _version_name(record: LabelImport) -> str:
    name = f"import-{record.id}"
    suffix = 1
    while GoldSetVersion.objects.filter(name=name).exists():  # someone chose this name by hand
        suffix += 1
        name = f"import-{record.id}-{suffix}"
    return name


def _reads_write(*, reader: User, rows: list[tuple[int, LabelDict]], record: LabelImport) -> int:
    """Write submitted reads of `reader` (call inside a transaction). Each report
    then goes the way of any submitted read: gold by agreement when its k reads
    agree and auto-gold is on, else (with k reads) the adjudication queue.
    Returns how many reports became gold."""
    settings_row = runtime_settings_get()
    now = timezone.now()
    became_gold = 0
    for report_id, labels in rows:
        report = report_lock(report_id)
        if Annotation.objects.filter(report=report, reader=reader).exists():  # written meanwhile
            raise ReviewError(f"{reader.get_username()} read report {report.external_id} meanwhile; nothing was imported. Import again.")
        Annotation.objects.create(
            report=report, reader=reader, labels=dict(labels), status=Annotation.Status.SUBMITTED, submitted_at=now,
            time_spent_seconds=0.0, label_import=record,
        )
        Reservation.objects.filter(report=report, reader=reader).delete()
        if settings_row.auto_gold and report_gold_by_agreement_try(report=report) is not None:
            became_gold += 1
        priority_open_recompute(report_id=report.id)
    return became_gold
