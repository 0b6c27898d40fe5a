"""Uncertainty policies for exported labels: what an uncertain (``-1.0``) value becomes.

Plain Python, no Django: the gold and prediction exports, ``label_reports`` and
the export API all parse and apply a policy here, so one spelling means the
same everywhere. A policy changes uncertain values only; positive, negative
and blank values are never touched (blank stays blank).

Spelling (``--uncertain SPEC`` / ``?uncertain=SPEC``):

- ``as-is`` (the default, also an empty SPEC): uncertain stays uncertain.
- ``positive`` (alias ``u-ones``): every uncertain value becomes positive (the
  CheXpert paper's U-Ones).
- ``negative`` (alias ``u-zeros``): every uncertain value becomes negative (U-Zeros).
- ``blank``: every uncertain value becomes blank (not mentioned).
- ``hedged-absent``: this site's held-out convention, in which the coders recorded
  only findings a report asserts and left hedged ones uncoded. "Absent" there
  is the positive-only reference's 0, "not coded", which in the CheXpert
  vocabulary is blank (nothing asserted), not negative (ruled out): a hedge is
  not a negation. So hedged-absent is uncertain -> blank for every observation,
  the same cell values a positive-only reference imported with
  ``--zero-means blank`` has.
- Per observation: ``"Atelectasis=positive,Edema=negative"``; a bare value in the
  list sets the rest: ``"negative,Atelectasis=positive"`` (U-Zeros except
  Atelectasis, as the CheXpert paper found best per observation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from labeling.observations import OBSERVATION_NAMES, LabelValue

AS_IS = "as-is"
# What an uncertain value may become (AS_IS: stays uncertain).
TARGETS: dict[str, str | None] = {
    AS_IS: None,
    "positive": LabelValue.POSITIVE.value,
    "negative": LabelValue.NEGATIVE.value,
    "blank": LabelValue.BLANK.value,
}
ALIASES = {"u-ones": "positive", "u-zeros": "negative", "asis": AS_IS, "": AS_IS}
# Named policies that are whole specs of their own.
NAMED_POLICIES = {"hedged-absent": "blank"}
POLICY_NAMES = (AS_IS, "positive", "negative", "blank", "hedged-absent")

POLICY_HELP = (
    "what uncertain (-1.0) values become; other values never change: as-is (default), positive (U-Ones), negative "
    "(U-Zeros), blank, hedged-absent (this site's held-out convention: hedged findings uncoded, i.e. uncertain -> blank), "
    "or per observation, e.g. 'Atelectasis=positive,Edema=negative' (a bare value sets the rest: 'negative,Atelectasis=positive')"
)

_OBSERVATIONS_BY_LOWER = {name.lower(): name for name in OBSERVATION_NAMES}


class UncertaintyPolicyError(ValueError):
    """A policy spec that cannot be read; the message says what is wrong and what is accepted."""


@dataclass(frozen=True)
class UncertaintyPolicy:
    """What each observation's uncertain value becomes (None: stays uncertain)."""

    default: str | None = None
    per_observation: Mapping[str, str | None] = field(default_factory=dict)
    spec: str = AS_IS  # the normalised spelling, for file names and provenance

    def target(self, observation: str) -> str | None:
        return self.per_observation.get(observation, self.default)

    @property
    def is_identity(self) -> bool:
        return self.default is None and all(v is None for v in self.per_observation.values())

    def apply(self, labels: Mapping[str, str]) -> dict[str, str]:
        """A copy of `labels` (observation name -> LabelValue value) with the
        uncertain values changed as the policy says; other values unchanged."""
        result = dict(labels)
        if self.is_identity:
            return result
        for name, value in labels.items():
            if value == LabelValue.UNCERTAIN.value:
                target = self.target(name)
                if target is not None:
                    result[name] = target
        return result


AS_IS_POLICY = UncertaintyPolicy()


def _target_name(raw: str, *, where: str) -> str:
    word = raw.strip().lower()
    word = ALIASES.get(word, word)
    if word not in TARGETS:
        raise UncertaintyPolicyError(
            f"{where}: {raw.strip()!r} is not a policy value (expected as-is, positive, negative or blank; "
            "u-ones and u-zeros are accepted for positive and negative)"
        )
    return word


def uncertainty_policy_parse(spec: str | None) -> UncertaintyPolicy:
    """Read a policy spec (see the module docstring). None or "" is as-is.

    Raises UncertaintyPolicyError naming the bad part: an unknown value or
    observation, or an observation given twice."""
    text = (spec or "").strip()
    if text.lower() in NAMED_POLICIES:
        target = NAMED_POLICIES[text.lower()]
        return UncertaintyPolicy(default=TARGETS[target], spec=text.lower())
    default_name = AS_IS
    default_given = False
    per: dict[str, str] = {}
    for part in (p for p in text.split(",") if p.strip()) if text else []:
        if "=" not in part:
            if part.strip().lower() in NAMED_POLICIES:
                raise UncertaintyPolicyError(f"{part.strip()!r} is a whole policy; it cannot be combined with others")
            if default_given:
                raise UncertaintyPolicyError(f"two policies for all observations: {default_name!r} and {part.strip()!r}")
            default_name = _target_name(part, where="policy")
            default_given = True
            continue
        raw_name, _, raw_value = part.partition("=")
        name = _OBSERVATIONS_BY_LOWER.get(raw_name.strip().lower())
        if name is None:
            raise UncertaintyPolicyError(
                f"unknown observation {raw_name.strip()!r} (expected one of: {', '.join(OBSERVATION_NAMES)})"
            )
        if name in per:
            raise UncertaintyPolicyError(f"{name!r} is given twice")
        per[name] = _target_name(raw_value, where=name)
    # Normalised spelling: the default first, then observations in CheXpert order.
    pieces = [default_name] if default_given and default_name != AS_IS else []
    pieces += [f"{name}={per[name]}" for name in OBSERVATION_NAMES if name in per and per[name] != default_name]
    return UncertaintyPolicy(
        default=TARGETS[default_name],
        per_observation={name: TARGETS[value] for name, value in per.items()},
        spec=",".join(pieces) or AS_IS,
    )


def uncertainty_policy_apply(labels: Mapping[str, str], policy: UncertaintyPolicy | None) -> dict[str, str]:
    """`policy.apply(labels)`; None is as-is."""
    return dict(labels) if policy is None else policy.apply(labels)
