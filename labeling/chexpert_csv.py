"""The CheXpert label-file format: reading and writing, one definition.

Plain Python, no Django. Written files are drop-ins for the CheXpert labeler's
output: a ``Reports`` text column, an ``id`` column when ids exist, then the 14
observations in CheXpert order with ``1.0`` / ``0.0`` / ``-1.0`` / empty.
``column_order="chexbert"`` writes CheXbert's ``Report Impression`` header and
head order for tools that read by position.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping

from labeling.observations import (
    CHEXBERT_ORDER,
    OBSERVATION_NAMES,
    OBSERVATIONS,
    LabelValue,
)
from labeling.report_files import ID_COLUMNS, ReportFileError

COLUMN_ORDERS = ("chexpert", "chexbert")


def header(*, has_ids: bool, column_order: str = "chexpert", include_text: bool = True) -> list[str]:
    if column_order == "chexbert":
        cols = (["Report Impression"] if include_text else []) + [o.value for o in CHEXBERT_ORDER]
        return (["id"] + cols) if has_ids else cols
    cols = ["Reports"] if include_text else []
    if has_ids:
        cols.append("id")
    return cols + list(OBSERVATION_NAMES)


def row(
    *,
    text: str | None,
    external_id: str | None,
    labels: Mapping[str, str],
    column_order: str = "chexpert",
) -> list[str]:
    """One CSV row matching `header` (text None: no text column; id None: no id column)."""
    if column_order == "chexbert":
        values = [LabelValue(labels[o.value]).chexpert for o in CHEXBERT_ORDER]
        cols = ([text] if text is not None else []) + values
        return ([external_id] + cols) if external_id is not None else cols
    cols = [text] if text is not None else []
    if external_id is not None:
        cols.append(external_id)
    try:
        return cols + [_CELLS[labels[name]] for name in OBSERVATION_NAMES]
    except KeyError:  # a missing observation (KeyError) or an unknown value (ValueError), as LabelValue says
        return cols + [LabelValue(labels[o.value]).chexpert for o in OBSERVATIONS]


# LabelValue value -> CheXpert cell, looked up per cell by every CSV export.
_CELLS = {v.value: v.chexpert for v in LabelValue}


def read_label_file(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Read a CheXpert-format label CSV into id -> labels (LabelDict).

    The id column may be any of the importer's id names; no text column is
    needed; missing observation columns are an error. Rows are keyed by their
    id, or by 1-based row number when the file has no id column.
    Raises ReportFileError naming the line and column of any bad cell.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        missing = [name for name in OBSERVATION_NAMES if name not in fields]
        if missing:
            raise ReportFileError(f"{os.fspath(path)}: missing observation column(s): {', '.join(missing)}")
        id_col = next((c for c in ID_COLUMNS if c in fields), None)
        result: dict[str, dict[str, str]] = {}
        errors: list[str] = []
        for index, record in enumerate(reader, start=1):
            key = (record.get(id_col) or "").strip() if id_col else str(index)
            labels: dict[str, str] = {}
            for name in OBSERVATION_NAMES:
                try:
                    labels[name] = LabelValue.from_chexpert(record.get(name)).value
                except ValueError as exc:
                    errors.append(f"line {reader.line_num}, column {name!r}: {exc}")
            if key in result:
                errors.append(f"line {reader.line_num}: duplicate id {key!r}")
            result[key] = labels
        if errors:
            raise ReportFileError(f"{os.fspath(path)}: " + "; ".join(errors[:20]))
        return result
