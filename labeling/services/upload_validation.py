"""Checking a report file before it is queued, so the uploader gets every bad row
at once (the import task validates again, with the database).

One validator for every way in: the API and the HTML import page call
`upload_validate`, the `import_reports` command calls `report_file_problems` on
its path. Files up to CHEXGOLD_SYNC_VALIDATE_MB are read in full here; larger
ones get the file-level checks only and their rows are validated by the import
task (which writes nothing if any row is bad).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from labeling.report_files import ReportFileError, ReportFileReader, RowError
from privacy.deid import deid_scan

ACCEPTED_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt")
ACCEPTED_CONTENT_TYPES = frozenset({
    "text/csv", "application/csv", "text/plain", "text/tab-separated-values", "application/jsonl", "application/x-ndjson",
    "application/x-jsonlines", "application/json", "application/octet-stream", "application/vnd.ms-excel", "",
})


def file_level_problems(*, name: str, size: int | None, content_type: str | None = None) -> list[RowError]:
    """Problems with the file as a whole (type, content type, size) that need no reading.
    `content_type` None: a local file (the command line), whose name and type are
    not checked: the reader detects CSV or JSONL from its content."""
    name = (name or "").lower()
    problems = []
    if content_type is not None and not name.endswith(ACCEPTED_EXTENSIONS):
        problems.append(RowError(0, f"unsupported file type {os.path.splitext(name)[1] or '(none)'!r}: upload CSV or JSONL"))
    if content_type is not None:
        content_type = content_type.split(";")[0].strip().lower()
        if content_type not in ACCEPTED_CONTENT_TYPES:
            problems.append(RowError(0, f"wrong content type {content_type!r}: upload CSV (text/csv) or JSONL (application/x-ndjson)"))
    limit = settings.CHEXGOLD_MAX_UPLOAD_MB * 1024 * 1024
    if size is not None and size > limit:
        problems.append(RowError(0, f"the file is {size / 1048576:.1f} MB; the limit is {settings.CHEXGOLD_MAX_UPLOAD_MB} MB"))
    if size == 0:
        problems.append(RowError(0, "the file is empty"))
    return problems


def report_file_problems(*, path: str, name: str | None = None, content_type: str | None = None,
                         read_rows: bool = True) -> list[RowError]:
    """Every bad row of a report file (line numbers as in the import), without
    touching the database; file-level problems first. Empty: the file is well formed."""
    name = name or os.path.basename(path)
    problems = file_level_problems(name=name, size=os.path.getsize(path), content_type=content_type)
    if problems or not read_rows:
        return problems
    try:
        reader = ReportFileReader(path, max_text_chars=settings.CHEXGOLD_MAX_REPORT_CHARS, display_name=name)
        seen: dict[str, tuple[int, str]] = {}
        rows = 0
        row_problems: list[RowError] = []
        block = settings.CHEXGOLD_DEID_POLICY == "block"  # identifiers are row errors, as in the import
        for row in reader:
            rows += 1
            if block:
                row_problems.extend(RowError(row.line, f"likely identifier ({f.kind}): {f.masked}", "text") for f in deid_scan(row.text))
            key = row.resolved_id
            first = seen.get(key)
            if first is None:
                seen[key] = (row.line, row.text)
            elif first[1] != row.text:
                row_problems.append(RowError(row.line, f"duplicate id {key!r} with different text (first at line {first[0]})", "id"))
        errors = list(reader.errors) + row_problems
        if not errors and rows == 0:
            errors.append(RowError(0, "the file holds no reports"))
    except ReportFileError as exc:
        errors = [RowError(0, str(exc))]
    return sorted(errors, key=lambda e: e.line)


@contextmanager
def upload_as_path(upload: UploadedFile) -> Iterator[str]:
    """A path on disk holding the upload (its temporary file, or a copy removed afterwards)."""
    if hasattr(upload, "temporary_file_path"):
        yield upload.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(upload.name or "")[1]) as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
        fh.flush()
        yield fh.name


def upload_validate(*, upload: UploadedFile) -> list[RowError]:
    """The problems of an uploaded report file: all of them for files up to
    CHEXGOLD_SYNC_VALIDATE_MB, the file-level ones for larger files."""
    problems = file_level_problems(name=upload.name or "", size=upload.size, content_type=upload.content_type or "")
    if problems:
        return problems
    read_rows = (upload.size or 0) <= settings.CHEXGOLD_SYNC_VALIDATE_MB * 1024 * 1024
    if not read_rows:
        return []
    with upload_as_path(upload) as path:
        errors = report_file_problems(path=path, name=upload.name, content_type=upload.content_type or "")
    upload.seek(0)
    return errors
