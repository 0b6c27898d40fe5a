"""Reading report files in the field's CSV/JSONL conventions, with exact errors.

Plain Python, no Django: shared by the importer, the `label_reports` command and
the benchmarks. Reading is streaming; callers validate the whole file (one pass
collecting every `RowError`) before they write anything.

Conventions (CheXpert labeler, CheXbert, MIMIC-CXR):
- CSV text column `Reports`, `Report Impression`, `report` or `text`; optional id
  column `id`, `study_id`, `uid` or `accession`; `patient_id` (or MIMIC's
  `subject_id`) and `study_date` are recognised; other columns are metadata.
- A headerless one-column CSV (the CheXpert labeler's input) is a list of texts.
- JSONL: one object per line with `text` (or `report`) and optional `id`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _csv import Reader as CsvReader
    from _csv import Writer as CsvWriter

TEXT_COLUMNS = ("Reports", "Report Impression", "report", "text")
ID_COLUMNS = ("id", "study_id", "uid", "accession")
PATIENT_COLUMNS = ("patient_id", "subject_id")
DATE_COLUMNS = ("study_date",)
JSON_TEXT_KEYS = ("text", "report")

DEFAULT_MAX_TEXT_CHARS = 100_000
# A single CSV field may be large (long reports); the csv module's default is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class RowError:
    line: int  # 1-based physical line where the row starts (0: the file as a whole)
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        col = f", column {self.column!r}" if self.column else ""
        return f"{where}{col}: {self.message}"


@dataclass
class ReportRow:
    line: int
    text: str
    external_id: str | None  # None: the file had no id for this row
    patient_id: str = ""
    study_date: dt.date | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def resolved_id(self) -> str:
        """The id this report is stored under: its own, or a stable hash of the text."""
        return self.external_id or text_hash_id(self.text)


@dataclass
class FileLayout:
    """What the reader learned about the file's columns."""

    format: str  # "csv", "csv-headerless" or "jsonl"
    text_column: str | None = None
    id_column: str | None = None

    @property
    def has_ids(self) -> bool:
        return self.format == "jsonl" or self.id_column is not None


class ReportFileError(Exception):
    """The file as a whole cannot be read (wrong column set, empty, unknown format)."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash_id(text: str) -> str:
    """Stable id for a report that came without one (same text -> same id)."""
    return "sha256-" + text_sha256(" ".join(text.split()))[:20]


def detect_format(name: str, head: bytes) -> str:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv")):
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if stripped.startswith(b"{") else "csv"


def _decoded_lines(stream: BinaryIO, errors: list[RowError]) -> Iterator[str]:
    """Decode line by line so a bad byte is reported with its line number."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(RowError(number, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start + 1})"))
            yield raw.decode("utf-8", errors="replace")


class ReportFileReader:
    """Iterates a report file, yielding `ReportRow`s and collecting `RowError`s.

    Usage: ``reader = ReportFileReader(path); for row in reader: ...`` then read
    ``reader.errors``. Rows with errors are not yielded. Opening the same path
    again gives a fresh pass (the importer validates, then writes).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        display_name: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.max_text_chars = max_text_chars
        self.errors: list[RowError] = []
        self.layout: FileLayout | None = None
        with open(self.path, "rb") as fh:
            head = fh.read(4096)
        if not head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise ReportFileError("the file is empty")
        self.format = detect_format(display_name or self.path, head)

    def __iter__(self) -> Iterator[ReportRow]:
        self.errors = []
        with open(self.path, "rb") as fh:
            if self.format == "jsonl":
                yield from self._iter_jsonl(fh)
            else:
                yield from self._iter_csv(fh)

    # -- CSV -------------------------------------------------------------
    def _iter_csv(self, fh: BinaryIO) -> Iterator[ReportRow]:
        # reader.line_num counts the physical lines read so far, so a record read
        # next starts on line reader.line_num + 1.
        reader = csv.reader(_decoded_lines(fh, self.errors))
        try:
            first_line = reader.line_num + 1
            header = next(reader)
        except StopIteration:
            raise ReportFileError("the file is empty") from None
        except csv.Error as exc:
            raise ReportFileError(f"line 1: not a valid CSV header ({exc})") from None
        text_col = next((c for c in TEXT_COLUMNS if c in header), None)
        if text_col is None:
            if len(header) == 1:
                # Headerless single column: the header row is the first report.
                self.layout = FileLayout("csv-headerless")
                yield from self._rows_headerless([(first_line, header)], reader)
                return
            raise ReportFileError(
                "wrong column set: no report text column (expected one of "
                + ", ".join(TEXT_COLUMNS)
                + f"; found {', '.join(header) or 'nothing'})"
            )
        duplicates = sorted({c for c in header if header.count(c) > 1})
        if duplicates:
            raise ReportFileError(f"wrong column set: repeated column(s) {', '.join(duplicates)}")
        id_col = next((c for c in ID_COLUMNS if c in header), None)
        patient_col = next((c for c in PATIENT_COLUMNS if c in header), None)
        date_col = next((c for c in DATE_COLUMNS if c in header), None)
        self.layout = FileLayout("csv", text_col, id_col)
        known = {text_col, id_col, patient_col, date_col}
        for start, values in self._csv_records(reader):
            if not values or (len(values) == 1 and not values[0].strip() and len(header) > 1):
                continue  # blank line
            if len(values) != len(header):
                self.errors.append(
                    RowError(start, f"wrong number of fields: {len(values)}, the header has {len(header)}")
                )
                continue
            record = dict(zip(header, values, strict=True))
            row = self._make_row(
                start,
                text=record[text_col],
                external_id=record.get(id_col, "") if id_col else None,
                patient_id=record.get(patient_col, "") if patient_col else "",
                study_date=record.get(date_col, "") if date_col else "",
                metadata={k: v for k, v in record.items() if k not in known},
                text_column=text_col,
                id_column=id_col,
                date_column=date_col,
            )
            if row is not None:
                yield row

    def _rows_headerless(self, first: list[tuple[int, list[str]]], reader: CsvReader) -> Iterator[ReportRow]:
        for start, values in itertools.chain(first, self._csv_records(reader)):
            if not values:
                continue
            if len(values) != 1:
                self.errors.append(RowError(start, f"wrong number of fields: {len(values)}, expected 1 (headerless CSV)"))
                continue
            row = self._make_row(start, text=values[0], external_id=None, text_column=None)
            if row is not None:
                yield row

    def _csv_records(self, reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
        """(first physical line, fields) of each CSV record; a malformed record ends
        the file with its error recorded (the csv module cannot resynchronise)."""
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.errors.append(RowError(start, f"malformed CSV ({exc})"))
                return
            yield start, values

    # -- JSONL -----------------------------------------------------------
    def _iter_jsonl(self, fh: BinaryIO) -> Iterator[ReportRow]:
        self.layout = FileLayout("jsonl", "text", "id")
        for number, line in enumerate(_decoded_lines(fh, self.errors), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                self.errors.append(RowError(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(obj, dict):
                self.errors.append(RowError(number, "not a JSON object"))
                continue
            text_key = next((k for k in JSON_TEXT_KEYS if k in obj), None)
            text = obj.get(text_key) if text_key else None
            if text is not None and not isinstance(text, str):
                self.errors.append(RowError(number, "text is not a string", text_key))
                continue
            id_key = next((k for k in ID_COLUMNS if k in obj), None)
            raw_id = obj.get(id_key) if id_key else None
            if isinstance(raw_id, (dict, list, bool)):
                self.errors.append(RowError(number, "id is not a string or number", id_key))
                continue
            patient_key = next((k for k in PATIENT_COLUMNS if k in obj), None)
            date_key = next((k for k in DATE_COLUMNS if k in obj), None)
            known = {text_key, id_key, patient_key, date_key}
            row = self._make_row(
                number,
                text=text or "",
                external_id=None if raw_id is None else str(raw_id),
                patient_id=str(obj.get(patient_key) or "") if patient_key else "",
                study_date=str(obj.get(date_key) or "") if date_key else "",
                metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in obj.items() if k not in known},
                text_column=text_key or "text",
                id_column=id_key,
                date_column=date_key,
            )
            if row is not None:
                yield row

    # -- shared ----------------------------------------------------------
    def _make_row(
        self,
        line: int,
        *,
        text: str,
        external_id: str | None,
        patient_id: str = "",
        study_date: str = "",
        metadata: dict[str, str] | None = None,
        text_column: str | None,
        id_column: str | None = None,
        date_column: str | None = None,
    ) -> ReportRow | None:
        if not text.strip():
            self.errors.append(RowError(line, "missing report text", text_column))
            return None
        if len(text) > self.max_text_chars:
            self.errors.append(
                RowError(line, f"report text is {len(text):,} characters, over the limit of {self.max_text_chars:,}", text_column)
            )
            return None
        if "\x00" in text:
            self.errors.append(RowError(line, "report text contains a NUL byte", text_column))
            return None
        clean_id = external_id.strip() if external_id is not None else None
        if clean_id is not None and len(clean_id) > 200:
            self.errors.append(RowError(line, "id is longer than 200 characters", id_column))
            return None
        date: dt.date | None = None
        if study_date.strip():
            try:
                date = dt.date.fromisoformat(study_date.strip()[:10])
            except ValueError:
                self.errors.append(RowError(line, f"study_date {study_date!r} is not a date (YYYY-MM-DD)", date_column))
                return None
        return ReportRow(
            line=line,
            text=text,
            external_id=clean_id or None,
            patient_id=patient_id.strip(),
            study_date=date,
            metadata=metadata or {},
        )


class _LineCounter:
    """Wraps decoded lines for csv.reader, tracking the next physical line number."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.next_line_number = 1

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.next_line_number += 1
        return line


def read_texts_for_labeling(path: str | os.PathLike[str]) -> tuple[FileLayout, list[ReportRow]]:
    """Read a whole report file for a labeling CLI; raise ReportFileError listing bad rows."""
    reader = ReportFileReader(path)
    rows = list(reader)
    if reader.errors:
        raise ReportFileError(format_errors(reader.errors))
    assert reader.layout is not None
    return reader.layout, rows


def format_errors(errors: list[RowError], limit: int = 50) -> str:
    shown = [str(e) for e in errors[:limit]]
    more = len(errors) - limit
    if more > 0:
        shown.append(f"... and {more} more")
    return f"{len(errors)} bad row(s):\n" + "\n".join(shown)


def csv_line(fields: list[str]) -> str:
    """The line `csv.writer(fh, lineterminator="\\n").writerow(fields)` writes, for
    str fields: a field holding a comma, a double quote or a newline is quoted
    (its quotes doubled); a row of one empty field is ``""``. Built with str
    methods, several times faster than the csv module's character loop on long
    report texts; `tests/labeling/test_export_identity.py` compares the two."""
    if len(fields) == 1 and not fields[0]:
        return '""\n'
    return ",".join([
        field if ("," not in field and '"' not in field and "\n" not in field) else '"' + field.replace('"', '""') + '"'
        for field in fields
    ]) + "\n"


def write_stream(rows: Iterable[list[str]]) -> Iterator[str]:
    """CSV-encode rows, yielding one line (one record) at a time (streamed exports)."""
    fallback: CsvWriter | None = None
    lines: list[str] = []
    for row in rows:
        if all(type(field) is str for field in row):
            yield csv_line(row)
            continue
        if fallback is None:  # None or numbers: as the csv module writes them
            fallback = csv.writer(_LineList(lines), lineterminator="\n")
        fallback.writerow(row)
        yield lines.pop()


class _LineList:
    """A file for a csv writer that appends each record it writes to a list."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append
