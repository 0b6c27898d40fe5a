"""Per-observation routing of pre-fill values between the rule labeler and a model.

Plain Python (no Django): the review page (annotator), the routed-labels API and
`label_reports --labeler routed` (ml_worker) all compute pre-fill values here, so
scripts label new text exactly as the review page would pre-fill it.

The routing table comes from the model version's promotion gate (`quality.gate`,
stored on `ModelVersion.gate`): the model pre-fills an observation only where it
beat the rules on validation gold; everywhere else the rules do. A model whose
gate failed takes no part at all. When both labelers are usable and disagree on
an observation, or the routed model is unsure of its value, the value is
*contested*: in the default `uncontested` mode it is not pre-filled, so the
reader must choose (accepting a pre-fill with one key accepts only values both
labelers support).

Labelers disagree when they differ on what the report says about the finding:
present, uncertain, or absent. "negative" (mentioned as absent) and "blank" (not
mentioned) are both *absent*: a model fine-tuned on positive-only gold (where 0
reads as negative) and the rules (blank where the text is silent) differ there
on most rows, and contesting those would hide the real disagreements among
noise. Where both say absent, the routed labeler's own value is pre-filled. The
model's confidence is likewise the probability of its value's class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from labeling.observations import OBSERVATION_NAMES

PREFILL_MODES = ("uncontested", "routed", "none")
_PRESENCE = {"positive": "present", "uncertain": "uncertain", "negative": "absent", "blank": "absent"}


def presence(value: str) -> str:
    """What a label says about the finding: present, uncertain or absent (negative and blank alike)."""
    return _PRESENCE.get(value, value)
GATE_STATUS_GOLD = "gold"
GATE_STATUS_RULES_AGREEMENT = "rules_agreement"
GATE_STATUS_FAILED = "failed"


def routing_table(gate: Mapping[str, Any] | None) -> dict[str, str]:
    """Per observation, who pre-fills: "model" where the gate lets it serve, else "rules"."""
    gate = gate or {}
    served = {o["observation"] for o in gate.get("observations", []) if o.get("serves")}
    if gate.get("status") != GATE_STATUS_GOLD:
        served = set()
    return {name: ("model" if name in served else "rules") for name in OBSERVATION_NAMES}


def model_is_usable(gate: Mapping[str, Any] | None) -> bool:
    """Whether a version's labels take part in pre-fill at all (as a source or to contest the rules)."""
    return (gate or {}).get("status") in (GATE_STATUS_GOLD, GATE_STATUS_RULES_AGREEMENT)


@dataclass(frozen=True)
class PrefillCell:
    """One observation's pre-fill: `value` None means "no value" (contested, or
    nothing to offer), which is not the same as a pre-filled "blank"."""

    value: str | None
    source: str | None  # "rules" | "model" | None (nothing pre-filled)
    source_version: str | None
    probability: float | None  # the model's probability of its value, where it has one
    contested: bool
    rule: str | None
    model: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def route(
    *,
    rules: Mapping[str, str] | None,
    rules_version: str | None,
    model: Mapping[str, str] | None,
    model_version: str | None,
    probabilities: Mapping[str, Mapping[str, float]] | None,
    gate: Mapping[str, Any] | None,
    mode: str = "uncontested",
    min_probability: float = 0.7,
) -> dict[str, PrefillCell]:
    """The pre-fill of one report, per observation (CheXpert order)."""
    if mode not in PREFILL_MODES:
        raise ValueError(f"unknown pre-fill mode {mode!r} (expected one of {', '.join(PREFILL_MODES)})")
    usable = model is not None and model_is_usable(gate)
    table = routing_table(gate) if usable else {name: "rules" for name in OBSERVATION_NAMES}
    cells = {}
    for name in OBSERVATION_NAMES:
        rule = rules.get(name) if rules else None
        mine = model.get(name) if model else None
        probability = None
        if mine is not None and probabilities and probabilities.get(name):
            per_value = probabilities[name]
            same_class = [float(p) for v, p in per_value.items() if presence(v) == presence(mine)]
            probability = sum(same_class) if same_class else float(max(per_value.values()))
        source = table[name]
        routed = mine if source == "model" else rule
        contested = usable and rule is not None and mine is not None and (
            presence(rule) != presence(mine) or (source == "model" and probability is not None and probability < min_probability)
        )
        if mode == "none" or routed is None or (mode == "uncontested" and contested):
            value, shown_source, version = None, None, None
        else:
            value, shown_source = routed, source
            version = model_version if source == "model" else rules_version
        cells[name] = PrefillCell(
            value=value, source=shown_source, source_version=version,
            probability=probability if shown_source == "model" else None,
            contested=contested, rule=rule, model=mine if usable else None,
        )
    return cells
