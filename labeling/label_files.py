"""Reading prior label files (gold, reads, another labeler's output), with exact errors.

Plain Python, no Django: `annotator.services.label_import` validates a file with
this reader, then matches its rows to stored reports. The whole file is read and
every bad row collected (`RowError`: line and column) before anything is written.

Conventions (CheXpert labeler output, MIMIC-CXR's chexpert.csv, our own exports):
- CSV with a header: a report id column (`id`, `study_id`, `uid`, `accession`, as
  for reports) or, without one, a report text column (`Reports`,
  `Report Impression`, `report`, `text`) matched by exact text; the 14
  observation columns, each cell ``1.0`` / ``0.0`` / ``-1.0`` / empty (also
  ``1`` / ``0`` / ``-1``). `patient_id`/`subject_id` and `study_date` are
  allowed and ignored; any other column is an error. With both an id and a text
  column the id is used.
- JSONL: one object per line, ``{"id": ..., "labels": {observation: value}}`` or
  the observations as top-level keys; values ``1`` / ``0`` / ``-1`` / null (or
  the same as strings, or ``positive`` / ``negative`` / ``uncertain`` /
  ``blank``). An observation left out is blank. Our gold JSONL export
  (with ``text`` and ``provenance``) reads back as is.

`zero_means="blank"` reads 0 as blank instead of negative: for positive-only
references (1 = coded present, 0 = not coded), such as Open-i's labels.csv.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from labeling.observations import OBSERVATION_NAMES, LabelDict, LabelValue, blank_labels
from labeling.report_files import (
    DATE_COLUMNS,
    ID_COLUMNS,
    JSON_TEXT_KEYS,
    PATIENT_COLUMNS,
    TEXT_COLUMNS,
    RowError,
    _decoded_lines,
    _LineCounter,
    detect_format,
)

ZERO_MEANS = ("negative", "blank")
KEY_ID = "id"
KEY_TEXT = "text"
MAX_ID_CHARS = 200
# Top-level JSONL keys that are not labels (our own gold JSONL export has `provenance`).
_JSON_OTHER_KEYS = frozenset(ID_COLUMNS + JSON_TEXT_KEYS + PATIENT_COLUMNS + DATE_COLUMNS + ("labels", "provenance"))
_CSV_IGNORED_COLUMNS = frozenset(PATIENT_COLUMNS + DATE_COLUMNS)
_NAMED_VALUES = {v.value: v for v in LabelValue}


@dataclass(frozen=True)
class LabelRow:
    line: int  # physical line where the row starts
    key_kind: str  # KEY_ID or KEY_TEXT: how the row names its report
    key: str  # the report id, or the report's exact text
    key_column: str  # the column (or JSON key) the key came from, for errors
    labels: LabelDict  # all 14 observations, after `zero_means`


@dataclass
class LabelFile:
    format: str  # "csv" or "jsonl"
    rows: list[LabelRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # The values the file's cells held, before `zero_means` (a file of only 1 and
    # 0 looks positive-only: see `looks_positive_only`).
    values_seen: set[str] = field(default_factory=set)

    @property
    def looks_positive_only(self) -> bool:
        return bool(self.rows) and self.values_seen == {LabelValue.POSITIVE.value, LabelValue.NEGATIVE.value}


def label_cell_parse(value: object) -> LabelValue:
    """A CSV cell or JSON value as a label: 1 / 0 / -1 (numbers or strings, ``1.0``
    too), empty or null as blank, or a value's name. Raises ValueError naming it."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise ValueError(f"not a label: {value!r} (expected 1, 0, -1 or empty)")
    if isinstance(value, str) and value.strip().lower() in _NAMED_VALUES:
        return _NAMED_VALUES[value.strip().lower()]
    return LabelValue.from_chexpert(value)


def label_file_read(path: str | os.PathLike[str], *, display_name: str | None = None, zero_means: str = "negative") -> LabelFile:
    """Read every row of a label file; problems are collected in `errors`, not raised.

    Rows with an error are left out of `rows`; a file whose header is unusable
    has no rows. A key repeated with the same labels is read once; with other
    labels it is an error at the later line."""
    if zero_means not in ZERO_MEANS:
        raise ValueError(f"zero_means must be one of {', '.join(ZERO_MEANS)}")
    path = os.fspath(path)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        return LabelFile(format="csv", errors=[RowError(0, "the file is empty")])
    result = LabelFile(format=detect_format(display_name or path, head))
    with open(path, "rb") as fh:
        raw_rows = _jsonl_rows(fh, result) if result.format == "jsonl" else _csv_rows(fh, result)
        seen: dict[tuple[str, str], LabelRow] = {}
        for row in raw_rows:
            if zero_means == "blank":
                row = LabelRow(row.line, row.key_kind, row.key, row.key_column,
                               {n: (LabelValue.BLANK.value if v == LabelValue.NEGATIVE.value else v) for n, v in row.labels.items()})
            first = seen.get((row.key_kind, row.key))
            if first is None:
                seen[(row.key_kind, row.key)] = row
                result.rows.append(row)
            elif first.labels != row.labels:
                what = f"id {row.key!r}" if row.key_kind == KEY_ID else "report text"
                result.errors.append(RowError(row.line, f"{what} again with other labels (first at line {first.line})", row.key_column))
    if not result.errors and not result.rows:
        result.errors.append(RowError(0, "the file holds no labels"))
    result.errors.sort(key=lambda e: e.line)
    return result


def _labels_from_cells(line: int, cells: dict[str, object], result: LabelFile) -> LabelDict | None:
    labels = blank_labels()
    ok = True
    for name, cell in cells.items():
        try:
            value = label_cell_parse(cell)
        except ValueError as exc:
            result.errors.append(RowError(line, str(exc), name))
            ok = False
            continue
        labels[name] = value.value
        result.values_seen.add(value.value)
    return labels if ok else None


def _key_problem(key: str, *, kind: str) -> str | None:
    if not key.strip():
        return "missing id" if kind == KEY_ID else "missing report text"
    if kind == KEY_ID and len(key.strip()) > MAX_ID_CHARS:
        return f"id is longer than {MAX_ID_CHARS} characters"
    if "\x00" in key:
        return "contains a NUL byte"
    return None


# -- CSV -------------------------------------------------------------------------
def _csv_rows(fh: object, result: LabelFile) -> Iterator[LabelRow]:
    lines = _LineCounter(_decoded_lines(fh, result.errors))  # type: ignore[arg-type]
    reader = csv.reader(lines)
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        result.errors.append(RowError(0, "the file is empty"))
        return
    except csv.Error as exc:
        result.errors.append(RowError(1, f"not a valid CSV header ({exc})"))
        return
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    text_col = next((c for c in TEXT_COLUMNS if c in header), None)
    key_col = id_col or text_col
    problems: list[RowError] = []
    if key_col is None:
        problems.append(RowError(1, "no report id column (one of " + ", ".join(ID_COLUMNS) + ") and no report text column (one of "
                                 + ", ".join(TEXT_COLUMNS) + f"); found {', '.join(header) or 'nothing'}"))
    for name in sorted({c for c in header if header.count(c) > 1}):
        problems.append(RowError(1, "repeated column", name))
    known = set(ID_COLUMNS) | set(TEXT_COLUMNS) | set(OBSERVATION_NAMES) | _CSV_IGNORED_COLUMNS
    for name in header:
        if name not in known:
            problems.append(RowError(1, "unknown column (expected a report id or text column and the 14 CheXpert observations)", name or "(empty)"))
    for name in OBSERVATION_NAMES:
        if name not in header:
            problems.append(RowError(1, "missing observation column", name))
    if problems:
        result.errors.extend(problems)
        return
    assert key_col is not None
    kind = KEY_ID if key_col == id_col else KEY_TEXT
    while True:
        start = lines.next_line_number
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            result.errors.append(RowError(start, f"malformed CSV ({exc})"))
            return
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # blank line
        if len(values) != len(header):
            result.errors.append(RowError(start, f"wrong number of fields: {len(values)}, the header has {len(header)}"))
            continue
        record = dict(zip(header, values, strict=True))
        key = record[key_col]
        problem = _key_problem(key, kind=kind)
        if problem:
            result.errors.append(RowError(start, problem, key_col))
            continue
        labels = _labels_from_cells(start, {name: record[name] for name in OBSERVATION_NAMES}, result)
        if labels is not None:
            yield LabelRow(start, kind, key.strip() if kind == KEY_ID else key, key_col, labels)


# -- JSONL -----------------------------------------------------------------------
def _jsonl_rows(fh: object, result: LabelFile) -> Iterator[LabelRow]:
    for number, line in enumerate(_decoded_lines(fh, result.errors), start=1):  # type: ignore[arg-type]
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(RowError(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            result.errors.append(RowError(number, "not a JSON object"))
            continue
        id_key = next((k for k in ID_COLUMNS if k in obj and obj[k] is not None), None)
        text_key = next((k for k in JSON_TEXT_KEYS if k in obj), None)
        if id_key is not None:
            raw = obj[id_key]
            if isinstance(raw, (dict, list, bool)):
                result.errors.append(RowError(number, "id is not a string or number", id_key))
                continue
            kind, key_col, key = KEY_ID, id_key, str(raw).strip()
        elif text_key is not None:
            if not isinstance(obj[text_key], str):
                result.errors.append(RowError(number, "text is not a string", text_key))
                continue
            kind, key_col, key = KEY_TEXT, text_key, obj[text_key]
        else:
            result.errors.append(RowError(number, "no report id (" + ", ".join(ID_COLUMNS) + ") or text (" + ", ".join(JSON_TEXT_KEYS) + ")"))
            continue
        problem = _key_problem(key, kind=kind)
        if problem:
            result.errors.append(RowError(number, problem, key_col))
            continue
        cells = _json_cells(number, obj, result)
        if cells is None:
            continue
        labels = _labels_from_cells(number, cells, result)
        if labels is not None:
            yield LabelRow(number, kind, key, key_col, labels)


def _json_cells(number: int, obj: dict[str, object], result: LabelFile) -> dict[str, object] | None:
    """The observation -> raw value pairs of one JSONL object, or None after recording its errors."""
    nested = obj.get("labels")
    if "labels" in obj and not isinstance(nested, dict):
        result.errors.append(RowError(number, "labels is not an object", "labels"))
        return None
    ok = True
    for key in obj:
        if key not in _JSON_OTHER_KEYS and (isinstance(nested, dict) or key not in OBSERVATION_NAMES):
            result.errors.append(RowError(number, "unknown key (expected id, labels and the 14 CheXpert observations)", key))
            ok = False
    source = nested if isinstance(nested, dict) else {k: v for k, v in obj.items() if k in OBSERVATION_NAMES}
    for key in source:
        if key not in OBSERVATION_NAMES:
            result.errors.append(RowError(number, "unknown observation", key))
            ok = False
    if not ok:
        return None
    if not source:
        result.errors.append(RowError(number, "no labels (give `labels` or the observations as keys)"))
        return None
    return {k: v for k, v in source.items()}
