"""The 14 CheXpert observations and the four label values, defined once.

Plain Python: importable without Django so the model code, the rule labeler and
the benchmarks share one definition. The order of `OBSERVATIONS` is the CheXpert
column order and is used everywhere (CSV columns, model heads, UI rows).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping


class Observation(str, enum.Enum):
    """A CheXpert observation; the value is its CSV column name."""

    NO_FINDING = "No Finding"
    ENLARGED_CARDIOMEDIASTINUM = "Enlarged Cardiomediastinum"
    CARDIOMEGALY = "Cardiomegaly"
    LUNG_LESION = "Lung Lesion"
    LUNG_OPACITY = "Lung Opacity"
    EDEMA = "Edema"
    CONSOLIDATION = "Consolidation"
    PNEUMONIA = "Pneumonia"
    ATELECTASIS = "Atelectasis"
    PNEUMOTHORAX = "Pneumothorax"
    PLEURAL_EFFUSION = "Pleural Effusion"
    PLEURAL_OTHER = "Pleural Other"
    FRACTURE = "Fracture"
    SUPPORT_DEVICES = "Support Devices"

    @property
    def slug(self) -> str:
        """Identifier-safe name, e.g. ``pleural_effusion`` (HTML ids, URL params)."""
        return self.name.lower()

    @property
    def jump_key(self) -> str:
        """Two-letter code that jumps to this row on the review and adjudication
        pages (`o` then the code); unique, so no prefix is ambiguous."""
        return JUMP_KEYS[self]

    def __str__(self) -> str:
        return self.value


# Keyboard jump codes (initials of two-word names; otherwise two telling letters).
JUMP_KEYS: dict[Observation, str] = {
    Observation.NO_FINDING: "nf", Observation.ENLARGED_CARDIOMEDIASTINUM: "ec", Observation.CARDIOMEGALY: "cm",
    Observation.LUNG_LESION: "ll", Observation.LUNG_OPACITY: "lo", Observation.EDEMA: "ed",
    Observation.CONSOLIDATION: "co", Observation.PNEUMONIA: "pn", Observation.ATELECTASIS: "at",
    Observation.PNEUMOTHORAX: "px", Observation.PLEURAL_EFFUSION: "pe", Observation.PLEURAL_OTHER: "po",
    Observation.FRACTURE: "fr", Observation.SUPPORT_DEVICES: "sd",
}

# CheXpert column order (enum definition order).
OBSERVATIONS: tuple[Observation, ...] = tuple(Observation)
OBSERVATION_NAMES: tuple[str, ...] = tuple(o.value for o in OBSERVATIONS)

# CheXbert's head order differs from CheXpert's column order (Lung Opacity before
# Lung Lesion, No Finding last); needed to load the original CheXbert checkpoint
# and for `--column-order chexbert` output.
CHEXBERT_ORDER: tuple[Observation, ...] = (
    Observation.ENLARGED_CARDIOMEDIASTINUM,
    Observation.CARDIOMEGALY,
    Observation.LUNG_OPACITY,
    Observation.LUNG_LESION,
    Observation.EDEMA,
    Observation.CONSOLIDATION,
    Observation.PNEUMONIA,
    Observation.ATELECTASIS,
    Observation.PNEUMOTHORAX,
    Observation.PLEURAL_EFFUSION,
    Observation.PLEURAL_OTHER,
    Observation.FRACTURE,
    Observation.SUPPORT_DEVICES,
    Observation.NO_FINDING,
)


class LabelValue(str, enum.Enum):
    """A label for one observation. Blank means "not mentioned"."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNCERTAIN = "uncertain"
    BLANK = "blank"

    @property
    def chexpert(self) -> str:
        """The CheXpert CSV cell: ``1.0``, ``0.0``, ``-1.0`` or empty."""
        return _TO_CHEXPERT[self]

    @property
    def numeric(self) -> float | None:
        """1.0 / 0.0 / -1.0, or None for blank (JSON exports, pandas users)."""
        return None if self is LabelValue.BLANK else float(_TO_CHEXPERT[self])

    @classmethod
    def from_chexpert(cls, cell: object) -> LabelValue:
        """Parse a CheXpert CSV cell (``1``, ``1.0``, ``0``, ``-1``, empty, NaN).

        Raises ValueError for anything else, naming the bad cell.
        """
        if cell is None:
            return cls.BLANK
        if isinstance(cell, float) and math.isnan(cell):
            return cls.BLANK
        text = str(cell).strip().lower()
        if text in ("", "nan", "none", "null"):
            return cls.BLANK
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not a CheXpert label: {cell!r} (expected 1, 0, -1 or empty)") from None
        for value, expected in ((cls.POSITIVE, 1.0), (cls.NEGATIVE, 0.0), (cls.UNCERTAIN, -1.0)):
            if number == expected:
                return value
        raise ValueError(f"not a CheXpert label: {cell!r} (expected 1, 0, -1 or empty)")

    def __str__(self) -> str:
        return self.value


LABEL_VALUES: tuple[LabelValue, ...] = tuple(LabelValue)

_TO_CHEXPERT = {
    LabelValue.POSITIVE: "1.0",
    LabelValue.NEGATIVE: "0.0",
    LabelValue.UNCERTAIN: "-1.0",
    LabelValue.BLANK: "",
}

# Class index order of CheXbert's heads: blank, positive, negative, uncertain.
# No Finding's head has only the first two classes.
MODEL_CLASSES: tuple[LabelValue, ...] = (
    LabelValue.BLANK,
    LabelValue.POSITIVE,
    LabelValue.NEGATIVE,
    LabelValue.UNCERTAIN,
)
NO_FINDING_CLASSES: tuple[LabelValue, ...] = MODEL_CLASSES[:2]


def classes_for(observation: Observation) -> tuple[LabelValue, ...]:
    """The classes a model head predicts for `observation`."""
    return NO_FINDING_CLASSES if observation is Observation.NO_FINDING else MODEL_CLASSES


LabelDict = dict[str, str]
"""A full set of labels as stored in the database: observation name -> LabelValue value."""


def blank_labels() -> LabelDict:
    return {name: LabelValue.BLANK.value for name in OBSERVATION_NAMES}


def labels_from_mapping(values: Mapping[object, object]) -> LabelDict:
    """Normalise a mapping keyed by Observation or name, valued by LabelValue or str.

    Missing observations become blank. Raises ValueError on an unknown
    observation or value.
    """
    result = blank_labels()
    for key, value in values.items():
        name = key.value if isinstance(key, Observation) else str(key)
        if name not in result:
            raise ValueError(f"unknown observation: {name!r}")
        result[name] = LabelValue(value.value if isinstance(value, LabelValue) else str(value)).value
    return result
