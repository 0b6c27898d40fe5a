"""Importing report files: validate everything, then write in bulk, or nothing."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from labeling.import_spool import PAYLOAD_COLUMNS, ImportSpool
from labeling.models import ImportBatch, Report
from labeling.report_files import ReportFileError, ReportFileReader, ReportRow, RowError, text_sha256
from labeling.sections import sections_for_storage
from privacy.deid import Finding, FindingsTally, deid_redact, deid_scan

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
    return sections_for_storage(text)


def _sections_json(text: str) -> str:
    """json.dumps(_sections_for_storage(text)), written directly (names are plain
    ASCII words, offsets integers): the JSON the ORM would store."""
    return "[" + ", ".join(f'["{name}", {heading}, {start}, {end}]' for name, heading, start, end in
                           sections_for_storage(text)) + "]"


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

    policy = settings.CHEXGOLD_DEID_POLICY
    with ImportSpool() as spool:
        errors = _read_into_spool(reader, spool, policy=policy, result=result)
        if errors:
            result.errors = errors
            return _finish_failed(result)
        if result.rows_read == 0:
            result.errors = [RowError(0, "the file holds no reports")]
            return _finish_failed(result)
        # Write: one transaction, so a crash leaves the database as it was.
        ImportBatch.objects.filter(id=batch.id).update(status=ImportBatch.Status.IMPORTING, rows_read=result.rows_read)
        with transaction.atomic():
            result.created_ids = _write_spooled_reports(spool, batch=batch, progress=progress)
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


def _read_into_spool(reader: ReportFileReader, spool: ImportSpool, *, policy: str, result: ImportResult) -> list[RowError]:
    """The one pass over the file: validate and de-identify each row, look its id
    up in the database (`LOOKUP_CHUNK` rows per query), split the sections of the
    rows that will be written, spool them all; then the checks that need every
    row (the same id twice, an id already stored with another text). Returns
    every problem, ordered by line (as the two-pass importer listed them: for
    one line, de-identification findings, then a repeated id, then the reader's
    errors, then a conflict with a stored report)."""
    scan_errors: list[RowError] = []  # de-identification findings under "block"
    tally = FindingsTally(policy=policy)
    redact = policy == "redact"
    file_error: list[RowError] = []
    pending: list[tuple[ReportRow, list[Finding], str]] = []

    def spool_pending() -> None:
        stored_shas = dict(
            Report.objects.filter(external_id__in={row.resolved_id for row, _, _ in pending}).values_list(
                "external_id", "text_sha256"
            )
        )
        failing = bool(scan_errors or reader.errors)
        for row, findings, sha in pending:
            key = row.resolved_id
            stored_sha = stored_shas.get(key)
            if failing or stored_sha is not None:
                # Never written (the file fails, or the id is stored): only what the checks need.
                spool.add((row.line, key, sha, stored_sha, None, None, None, None, None, None))
                continue
            # The hash is of the original text (idempotency); sections and, later,
            # rule evidence offsets are of the stored (possibly redacted) text.
            text, kinds = row.text, []
            if redact and findings:
                text, _ = deid_redact(row.text, findings)
                kinds = sorted({f.kind for f in findings})
            spool.add((
                row.line, key, sha, None, row.patient_id, row.study_date.isoformat() if row.study_date else None,
                json.dumps(row.metadata) if row.metadata else "{}", text, json.dumps(kinds) if kinds else "[]",
                _sections_json(text),
            ))
        pending.clear()

    try:
        for row in reader:
            result.rows_read += 1
            findings = deid_scan(row.text)
            if findings:
                tally.add(row.line, findings)
                if policy == "block":
                    scan_errors.extend(RowError(row.line, f"likely identifier ({f.kind}): {f.masked}", "text") for f in findings)
            pending.append((row, findings, text_sha256(row.text)))
            if len(pending) >= LOOKUP_CHUNK:
                spool_pending()
    except ReportFileError as exc:
        file_error.append(RowError(0, str(exc)))
    if pending:
        spool_pending()
    spool.finish_adding()
    result.deid = tally.as_dict()
    repeat_errors = [
        RowError(line, f"duplicate id {key!r} with different text (first at line {first_line})", "id")
        for line, key, sha, first_line, first_sha in spool.repeats()
        if sha != first_sha
    ]
    # Against the database: same id, different text is an error; same text is a no-op.
    stored_errors = [
        RowError(line, f"id {key!r} is already stored with a different text", "id") for line, key in spool.mark_stored()
    ]
    return sorted(scan_errors + repeat_errors + file_error + reader.errors + stored_errors, key=lambda e: e.line)


def _write_spooled_reports(
    spool: ImportSpool, *, batch: ImportBatch, progress: Callable[[float], object] | None
) -> list[int]:
    """Insert the spooled NEW rows (call inside a transaction); their ids in file order.

    No model instances: rows go from the spool to the database as they are, by
    COPY on PostgreSQL and executemany elsewhere; the ORM's bulk_create spent
    more time building and compiling than the database spent inserting."""
    total = spool.count_new()
    fields = {f.name: f for f in Report._meta.concrete_fields}
    spooled = ["external_id", "text_sha256", *PAYLOAD_COLUMNS]
    now = timezone.now()
    # Columns every new report gets the same value in: the batch, the time, the model defaults.
    constant = {"import_batch": batch.id, "created_at": now}
    for name, f in fields.items():
        if name not in spooled and name not in constant and not f.primary_key:
            constant[name] = f.get_default()
    columns = [connection.ops.quote_name(str(fields[name].column)) for name in [*spooled, *constant]]
    before = set(Report.objects.filter(import_batch=batch).values_list("id", flat=True))  # normally none
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            constants = tuple(
                fields[name].get_db_prep_save(value, connection) if name != "created_at" else value
                for name, value in constant.items()
            )
            copy_sql = f"COPY {connection.ops.quote_name(Report._meta.db_table)} ({', '.join(columns)}) FROM STDIN"
            for rows in spool.new_rows(WRITE_CHUNK):  # one COPY per chunk: progress between them
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row + constants)
                written += len(rows)
                if progress and total:
                    progress(written / total)
        else:
            constants = tuple(fields[name].get_db_prep_save(value, connection) for name, value in constant.items())
            insert_sql = (
                f"INSERT INTO {connection.ops.quote_name(Report._meta.db_table)} ({', '.join(columns)})"
                f" VALUES ({', '.join(['%s'] * len(columns))})"
            )
            for rows in spool.new_rows(WRITE_CHUNK):
                cursor.executemany(insert_sql, [row + constants for row in rows])  # type: ignore[misc]
                written += len(rows)
                if progress and total:
                    progress(written / total)
    # The one list that grows with the file (the caller labels these reports): ints only.
    ids = Report.objects.filter(import_batch=batch).order_by("id").values_list("id", flat=True)
    return [i for i in ids.iterator(chunk_size=10_000) if i not in before]


def _deid_note(deid: dict[str, object]) -> str:
    if not deid.get("total"):
        return ""
    counts = ", ".join(f"{n} {kind}" for kind, n in deid["counts"].items())  # type: ignore[attr-defined]
    verb = "redacted" if deid.get("policy") == "redact" else "found"
    return f"; likely identifiers {verb}: {counts}"


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
