"""Importing report files: validate everything, then write in bulk, or nothing."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeling.models import ImportBatch, Report
from labeling.report_files import ReportFileError, ReportFileReader, ReportRow, RowError, text_sha256
from labeling.sections import parse_sections
from privacy.deid import FindingsTally, deid_redact, deid_scan

logger = logging.getLogger(__name__)

WRITE_CHUNK = 2000
LOOKUP_CHUNK = 900  # below SQLite's default bound-parameter limit


@dataclass
class ImportResult:
    batch: ImportBatch
    rows_read: int = 0
    created_ids: list[int] = field(default_factory=list)  # Report primary keys
    rows_unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    # privacy.deid findings summary (also stored on the batch as `deid_findings`)
    deid: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _row_errors_as_json(errors: list[RowError]) -> list[dict[str, object]]:
    return [{"line": e.line, "column": e.column, "message": e.message} for e in errors]


def _sections_for_storage(text: str) -> list[list[object]]:
    return [[s.name.value, s.heading_start, s.start, s.end] for s in parse_sections(text)]


def import_batch_create(*, filename: str, user: User | None = None, stored_path: str = "") -> ImportBatch:
    return ImportBatch.objects.create(filename=filename, created_by=user, stored_path=stored_path)


def report_import(
    *,
    path: str | os.PathLike[str],
    filename: str | None = None,
    user: User | None = None,
    batch: ImportBatch | None = None,
    progress: Callable[[float], object] | None = None,
) -> ImportResult:
    """Import a CSV/JSONL report file.

    Validates the whole file first (every bad row by line), then writes all new
    reports in one transaction; on any error nothing is written. Idempotent on
    the external id: a report already stored with the same text is left alone;
    the same id with a different text is an error. Rule labelling of the new
    reports is the caller's next step (see `rule_predictions_for_new_reports`).

    De-identification (`privacy.deid`, policy CHEXGOLD_DEID_POLICY): every row
    is scanned for likely identifiers; `warn` imports and reports them, `block`
    makes each finding a row error (nothing imported), `redact` stores the text
    with typed placeholders and records the kinds on `Report.redacted_kinds`.
    Ids, duplicate checks and `text_sha256` always use the ORIGINAL text, so
    re-importing the same file after redaction is a no-op.
    """
    display = filename or os.path.basename(os.fspath(path))
    if batch is None:
        batch = import_batch_create(filename=display, user=user)
    result = ImportResult(batch=batch)
    ImportBatch.objects.filter(id=batch.id).update(status=ImportBatch.Status.VALIDATING, started_at=timezone.now())

    try:
        reader = ReportFileReader(path, max_text_chars=settings.CHEXGOLD_MAX_REPORT_CHARS, display_name=display)
    except ReportFileError as exc:
        result.errors = [RowError(0, str(exc))]
        return _finish_failed(result)
    except OSError as exc:
        result.errors = [RowError(0, f"cannot read the file ({exc.strerror or exc})")]
        return _finish_failed(result)

    # Pass 1: validate. Keep only id -> (first line, digest) to stay small.
    seen: dict[str, tuple[int, bytes]] = {}
    errors: list[RowError] = []
    policy = settings.CHEXGOLD_DEID_POLICY
    tally = FindingsTally(policy=policy)
    try:
        for row in reader:
            result.rows_read += 1
            findings = deid_scan(row.text)
            if findings:
                tally.add(row.line, findings)
                if policy == "block":
                    errors.extend(RowError(row.line, f"likely identifier ({f.kind}): {f.masked}", "text") for f in findings)
            key = row.resolved_id
            digest = bytes.fromhex(text_sha256(row.text))
            previous = seen.get(key)
            if previous is None:
                seen[key] = (row.line, digest)
            elif previous[1] != digest:
                errors.append(RowError(row.line, f"duplicate id {key!r} with different text (first at line {previous[0]})", "id"))
    except ReportFileError as exc:
        errors.append(RowError(0, str(exc)))
    errors.extend(reader.errors)
    result.deid = tally.as_dict()
    # Against the database: same id, different text is an error; same text is a no-op.
    existing: set[str] = set()
    keys = list(seen)
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        for external_id, stored_sha in Report.objects.filter(external_id__in=chunk).values_list("external_id", "text_sha256"):
            line, digest = seen[external_id]
            if digest.hex() != stored_sha:
                errors.append(RowError(line, f"id {external_id!r} is already stored with a different text", "id"))
            existing.add(external_id)
    if errors:
        result.errors = sorted(errors, key=lambda e: e.line)
        return _finish_failed(result)
    if result.rows_read == 0:
        result.errors = [RowError(0, "the file holds no reports")]
        return _finish_failed(result)

    # Pass 2: write. One transaction, so a crash leaves the database as it was.
    ImportBatch.objects.filter(id=batch.id).update(status=ImportBatch.Status.IMPORTING, rows_read=result.rows_read)
    to_write = len(seen) - len(existing)
    written_keys: set[str] = set()
    pending: list[Report] = []
    with transaction.atomic():
        for row in reader:
            key = row.resolved_id
            if key in existing or key in written_keys:
                continue
            written_keys.add(key)
            pending.append(_report_from_row(row, key, batch, redact=policy == "redact"))
            if len(pending) >= WRITE_CHUNK:
                _flush(pending, result)
                if progress and to_write:
                    progress(len(written_keys) / to_write)
        _flush(pending, result)
    result.rows_unchanged = result.rows_read - len(result.created_ids)
    ImportBatch.objects.filter(id=batch.id).update(
        status=ImportBatch.Status.SUCCEEDED,
        rows_created=len(result.created_ids),
        rows_unchanged=result.rows_unchanged,
        errors=[],
        deid_findings=result.deid,
        message=f"{len(result.created_ids)} new report(s), {result.rows_unchanged} unchanged" + _deid_note(result.deid),
        progress=1.0,
        finished_at=timezone.now(),
    )
    batch.refresh_from_db()
    logger.info("import %s: %s", batch.filename, batch.message)
    return result


def _deid_note(deid: dict[str, object]) -> str:
    if not deid.get("total"):
        return ""
    counts = ", ".join(f"{n} {kind}" for kind, n in deid["counts"].items())  # type: ignore[attr-defined]
    verb = "redacted" if deid.get("policy") == "redact" else "found"
    return f"; likely identifiers {verb}: {counts}"


def _report_from_row(row: ReportRow, key: str, batch: ImportBatch, *, redact: bool = False) -> Report:
    # The hash is of the original text (idempotency); sections and, later, rule
    # evidence offsets are of the stored (possibly redacted) text.
    text, kinds = row.text, []
    if redact:
        text, found = deid_redact(row.text)
        kinds = sorted({f.kind for f in found})
    return Report(
        external_id=key,
        patient_id=row.patient_id,
        study_date=row.study_date,
        metadata=row.metadata,
        text=text,
        text_sha256=text_sha256(row.text),
        redacted_kinds=kinds,
        sections=_sections_for_storage(text),
        import_batch=batch,
    )


def _flush(pending: list[Report], result: ImportResult) -> None:
    if not pending:
        return
    created = Report.objects.bulk_create(pending, batch_size=WRITE_CHUNK)
    if created and created[0].pk is None:  # backends that cannot return ids
        ids = Report.objects.filter(external_id__in=[r.external_id for r in pending]).values_list("id", flat=True)
        result.created_ids.extend(ids)
    else:
        result.created_ids.extend(r.pk for r in created)
    pending.clear()


def _finish_failed(result: ImportResult) -> ImportResult:
    ImportBatch.objects.filter(id=result.batch.id).update(
        status=ImportBatch.Status.FAILED,
        rows_read=result.rows_read,
        errors=_row_errors_as_json(result.errors),
        deid_findings=result.deid,
        message=f"{len(result.errors)} problem(s); nothing was imported",
        finished_at=timezone.now(),
    )
    result.batch.refresh_from_db()
    return result


def import_batch_mark_failed(*, batch_id: int, message: str) -> None:
    """For a task that crashed outside `report_import` (nothing was committed)."""
    ImportBatch.objects.filter(id=batch_id).exclude(status=ImportBatch.Status.SUCCEEDED).update(
        status=ImportBatch.Status.FAILED,
        errors=[{"line": 0, "column": None, "message": message}],
        message=message,
        finished_at=timezone.now(),
    )
