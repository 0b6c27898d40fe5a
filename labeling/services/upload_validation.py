"""Checking an uploaded report file before it is queued, so the uploader gets
every bad row at once (the import task validates again, with the database)."""

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


def upload_problems(*, upload: UploadedFile) -> list[RowError]:
    """File-level problems (name, content type, size) that need no reading."""
    name = (upload.name or "").lower()
    problems = []
    if not name.endswith(ACCEPTED_EXTENSIONS):
        problems.append(RowError(0, f"unsupported file type {os.path.splitext(name)[1] or '(none)'!r}: upload CSV or JSONL"))
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_CONTENT_TYPES:
        problems.append(RowError(0, f"wrong content type {content_type!r}: upload CSV (text/csv) or JSONL (application/x-ndjson)"))
    limit = settings.CHEXGOLD_MAX_UPLOAD_MB * 1024 * 1024
    if upload.size is not None and upload.size > limit:
        problems.append(RowError(0, f"the file is {upload.size / 1048576:.1f} MB; the limit is {settings.CHEXGOLD_MAX_UPLOAD_MB} MB"))
    if upload.size == 0:
        problems.append(RowError(0, "the file is empty"))
    return problems


@contextmanager
def _as_path(upload: UploadedFile) -> Iterator[str]:
    if hasattr(upload, "temporary_file_path"):
        yield upload.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(upload.name or "")[1]) as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
        fh.flush()
        yield fh.name
    upload.seek(0)


def report_file_validate(*, upload: UploadedFile) -> list[RowError]:
    """Every bad row of an uploaded file (line numbers as in the import), without
    touching the database. An empty list means the rows are well formed."""
    problems = upload_problems(upload=upload)
    if problems:
        return problems
    with _as_path(upload) as path:
        try:
            reader = ReportFileReader(path, max_text_chars=settings.CHEXGOLD_MAX_REPORT_CHARS, display_name=upload.name)
            seen: dict[str, tuple[int, str]] = {}
            rows = 0
            duplicates: list[RowError] = []
            block = settings.CHEXGOLD_DEID_POLICY == "block"  # identifiers are row errors, as in the import
            for row in reader:
                rows += 1
                if block:
                    duplicates.extend(RowError(row.line, f"likely identifier ({f.kind}): {f.masked}", "text") for f in deid_scan(row.text))
                key = row.resolved_id
                first = seen.get(key)
                if first is None:
                    seen[key] = (row.line, row.text)
                elif first[1] != row.text:
                    duplicates.append(RowError(row.line, f"duplicate id {key!r} with different text (first at line {first[0]})", "id"))
            errors = list(reader.errors) + duplicates
            if not errors and rows == 0:
                errors.append(RowError(0, "the file holds no reports"))
        except ReportFileError as exc:
            errors = [RowError(0, str(exc))]
    upload.seek(0)
    return sorted(errors, key=lambda e: e.line)
