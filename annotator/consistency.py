"""Consistency checks run when a read is submitted (warnings the reader may override).

Pure: no Django. Input is a full LabelDict (observation name -> label value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labeling.observations import LabelValue, Observation

# Findings under Lung Opacity in the CheXpert hierarchy.
OPACITY_CHILDREN: tuple[Observation, ...] = (
    Observation.EDEMA,
    Observation.CONSOLIDATION,
    Observation.PNEUMONIA,
    Observation.ATELECTASIS,
    Observation.LUNG_LESION,
)

NOT_FINDINGS = frozenset({Observation.NO_FINDING, Observation.SUPPORT_DEVICES})

_POS = LabelValue.POSITIVE.value
_UNC = LabelValue.UNCERTAIN.value
_NEG = LabelValue.NEGATIVE.value


@dataclass(frozen=True)
class ConsistencyWarning:
    code: str
    message: str
    observations: tuple[str, ...]


def consistency_warnings(labels: Mapping[str, str]) -> list[ConsistencyWarning]:
    """Every inconsistency in `labels`, in a stable order (empty list when consistent)."""
    warnings: list[ConsistencyWarning] = []
    if labels.get(Observation.NO_FINDING.value) == _POS:
        # Support Devices is not a finding: CheXpert's No Finding allows devices.
        others = tuple(
            o.value for o in Observation if o not in NOT_FINDINGS and labels.get(o.value) in (_POS, _UNC)
        )
        if others:
            warnings.append(
                ConsistencyWarning(
                    "no_finding_with_findings",
                    f"No Finding is positive but {', '.join(others)} {'is' if len(others) == 1 else 'are'} positive or uncertain.",
                    (Observation.NO_FINDING.value, *others),
                )
            )
    if labels.get(Observation.LUNG_OPACITY.value) == _NEG:
        children = tuple(o.value for o in OPACITY_CHILDREN if labels.get(o.value) == _POS)
        if children:
            warnings.append(
                ConsistencyWarning(
                    "opacity_child_without_opacity",
                    f"{', '.join(children)} {'is' if len(children) == 1 else 'are'} positive while Lung Opacity is negative.",
                    (Observation.LUNG_OPACITY.value, *children),
                )
            )
    if labels.get(Observation.CARDIOMEGALY.value) == _POS and labels.get(Observation.ENLARGED_CARDIOMEDIASTINUM.value) == _NEG:
        warnings.append(
            ConsistencyWarning(
                "cardiomegaly_without_enlarged_cardiomediastinum",
                "Cardiomegaly is positive while Enlarged Cardiomediastinum is negative.",
                (Observation.ENLARGED_CARDIOMEDIASTINUM.value, Observation.CARDIOMEGALY.value),
            )
        )
    return warnings
