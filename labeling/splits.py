"""Stable train/validation splits from a hash, so a report's split never changes
as the data grows (validation never leaks into training).

Plain Python. The key is the patient id when there is one (all of a patient's
studies land on the same side), else the report's external id.
"""

from __future__ import annotations

import hashlib

VALIDATION_FRACTION = 0.2
SILVER_HOLDOUT_FRACTION = 0.1


def _unit_interval(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_key(*, patient_id: str, external_id: str) -> str:
    return f"patient:{patient_id}" if patient_id else f"report:{external_id}"


def gold_split_for(*, patient_id: str, external_id: str) -> str:
    """'validation' for about 20% of patients (or reports), else 'train'."""
    key = split_key(patient_id=patient_id, external_id=external_id)
    return "validation" if _unit_interval(key, "gold") < VALIDATION_FRACTION else "train"


def in_silver_holdout(*, patient_id: str, external_id: str) -> bool:
    """About 10% of reports whose rule labels are held out of silver training, to
    compare model versions while there is no validation gold yet."""
    key = split_key(patient_id=patient_id, external_id=external_id)
    return _unit_interval(key, "silver") < SILVER_HOLDOUT_FRACTION
