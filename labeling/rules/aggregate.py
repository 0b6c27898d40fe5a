"""Aggregation of mention values into one label per observation (CheXpert's rules)."""

from __future__ import annotations

from collections.abc import Sequence

from labeling.observations import LabelValue

POS, NEG, UNC, BLANK = LabelValue.POSITIVE, LabelValue.NEGATIVE, LabelValue.UNCERTAIN, LabelValue.BLANK


def aggregate_values(values: Sequence[LabelValue]) -> LabelValue:
    """One observation's label from all its mentions, in CheXpert's order.

    negative and uncertain -> uncertain; else negative and positive ->
    positive; else uncertain and positive -> positive; else the common value;
    no mention -> blank.
    """
    kinds = set(values)
    if not kinds:
        return BLANK
    if NEG in kinds and UNC in kinds:
        return UNC
    if POS in kinds:
        return POS
    (only,) = kinds
    return only


def no_finding_value(finding_values: Sequence[LabelValue], other_values: Sequence[LabelValue]) -> LabelValue:
    """No Finding: positive unless a finding (Support Devices excluded) or an
    abnormality outside the 14 is mentioned as positive or uncertain; then blank.

    `finding_values` are mention values of the 12 findings that count;
    `other_values` those of other abnormalities. Never negative or uncertain.
    """
    for value in (*finding_values, *other_values):
        if value is POS or value is UNC:
            return BLANK
    return POS
