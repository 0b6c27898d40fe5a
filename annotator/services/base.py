"""What every review write shares: the report row lock and completing a label set."""

from __future__ import annotations

from collections.abc import Mapping

from annotator.errors import ReviewError
from api.compiled_queries import CompiledQuery
from labeling.models import Report
from labeling.observations import OBSERVATION_NAMES, LabelDict, labels_from_mapping

MAX_TIME_SPENT_SECONDS = 4 * 3600


def report_lock(report_id: int) -> Report:
    """Lock the report row for the rest of the transaction (no-op on SQLite,
    where IMMEDIATE transactions already serialise writers)."""
    rows = _REPORT_LOCKED.run(report_id=report_id)
    if not rows:
        raise Report.DoesNotExist(f"no report {report_id}")
    return rows[0]


# Taken by every write of a read: compiled once per process (api.compiled_queries).
_REPORT_LOCKED = CompiledQuery(
    "annotator.report_locked", lambda slots: Report.objects.select_for_update().filter(id=slots.int("report_id"))[:1]
)


def full_labels(values: Mapping[str, str]) -> LabelDict:
    """Validate a complete set of 14 labels (ReviewError naming what is wrong)."""
    missing = [name for name in OBSERVATION_NAMES if name not in values or not values[name]]
    if missing:
        raise ReviewError(f"Choose a value for: {', '.join(missing)}")
    try:
        mapping: dict[object, object] = {k: v for k, v in values.items()}
        return labels_from_mapping(mapping)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
