"""The promotion gate: may a model pre-fill an observation instead of the rules?

Plain Python (numpy), no Django: `ml_worker.services.registry` calls it when it
registers a version, and the bench calls it on the dev set.

Per observation, with validation gold: the model serves an observation when its
weighted F1 there (CheXbert's: No Finding scores the positive class only) is
higher than the rules' F1 *on exactly the same reports*; ties go to the rules.
Below a minimum of gold reports and positives for that observation the rules
keep it ("too little gold"). The paired bootstrap interval of the difference
(model - rules, the same resampled reports for both) is reported beside it.

Without gold, a model may only confirm the rules: it is usable when its mean
weighted F1 against held-back rule labels reaches `min_agreement`; the review
page then pre-fills the rules' value only where the model agrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling.observations import OBSERVATION_NAMES
from labeling.routing import GATE_STATUS_FAILED, GATE_STATUS_GOLD, GATE_STATUS_RULES_AGREEMENT
from quality.metrics import (
    Bootstrap,
    confusion_counts,
    interval,
    label_codes,
    label_mapping_get,
    mean_weighted_f1,
    weighted_f1_per_observation,
)

# gold: validated on gold, serves the observations where it beats the rules;
# rules_agreement: no gold yet, agrees with the rules and may confirm them;
# failed: pre-fills nothing. Routing by these is `labeling.routing`.
STATUS_GOLD = GATE_STATUS_GOLD
STATUS_RULES_AGREEMENT = GATE_STATUS_RULES_AGREEMENT
STATUS_FAILED = GATE_STATUS_FAILED

LabelRows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class GateThresholds:
    min_gold_reports: int = 30  # validation gold reports needed before any observation is compared
    min_positives: int = 5  # gold positives of an observation needed to compare it
    min_agreement: float = 0.90  # mean weighted F1 against held-back rule labels, without gold
    n_resamples: int = 1000
    seed: int = 20240601


def _f1(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def gate_on_gold(*, gold: LabelRows, rules: LabelRows, model: LabelRows, thresholds: GateThresholds = GateThresholds()) -> dict[str, Any]:
    """The per-observation gate on validation gold; all three sequences align (same reports)."""
    if not (len(gold) == len(rules) == len(model)):
        raise ValueError("gold, rules and model must label the same reports")
    n = len(gold)
    m = label_mapping_get("full")
    ref, r_codes, m_codes = label_codes(gold, m), label_codes(rules, m), label_codes(model, m)
    boot = Bootstrap(n, n_resamples=thresholds.n_resamples, seed=thresholds.seed)
    r_cm, m_cm = confusion_counts(ref, r_codes, m.n_categories), confusion_counts(ref, m_codes, m.n_categories)
    r_point = weighted_f1_per_observation(r_cm.sum(axis=0, dtype=np.float64), m)
    m_point = weighted_f1_per_observation(m_cm.sum(axis=0, dtype=np.float64), m)
    diff_boot = (weighted_f1_per_observation(boot.sums(m_cm), m) - weighted_f1_per_observation(boot.sums(r_cm), m)) if n else None
    observations = []
    for j, name in enumerate(OBSERVATION_NAMES):
        positives = int((ref[:, j] == 0).sum()) if n else 0
        model_f1, rules_f1 = _f1(m_point[j]), _f1(r_point[j])
        diff = interval(m_point[j] - r_point[j], diff_boot[:, j]) if diff_boot is not None else {"value": None, "low": None, "high": None}
        if n < thresholds.min_gold_reports or positives < thresholds.min_positives:
            serves, reason = False, (f"too little gold: {n} report(s), {positives} positive(s) "
                                     f"(needs {thresholds.min_gold_reports} and {thresholds.min_positives})")
        elif model_f1 is None or rules_f1 is None:
            serves, reason = False, "not scorable on this gold"
        elif model_f1 > rules_f1:
            serves, reason = True, f"model F1 {model_f1:.3f} > rules {rules_f1:.3f}"
        else:
            serves, reason = False, f"rules F1 {rules_f1:.3f} >= model {model_f1:.3f} (ties go to the rules)"
        observations.append({
            "observation": name, "serves": serves, "reason": reason, "reports": n, "positives": positives,
            "model_f1": model_f1, "rules_f1": rules_f1, "difference": diff,
        })
    served = [o["observation"] for o in observations if o["serves"]]
    return {
        "basis": "gold",
        "status": STATUS_GOLD if served else STATUS_FAILED,
        "reason": (f"serves {len(served)} observation(s) where it beats the rules on {n} gold report(s)" if served
                   else f"beats the rules on no observation with enough gold ({n} gold report(s))"),
        "reports": n,
        "model_mean_weighted_f1": _f1(mean_weighted_f1(gold, model)) if n else None,
        "rules_mean_weighted_f1": _f1(mean_weighted_f1(gold, rules)) if n else None,
        "observations": observations,
        "thresholds": thresholds.__dict__,
    }


def gate_on_rules(*, rules: LabelRows, model: LabelRows, thresholds: GateThresholds = GateThresholds()) -> dict[str, Any]:
    """The gate without gold: agreement with held-back rule labels (the model serves no observation alone)."""
    if len(rules) != len(model):
        raise ValueError("rules and model must label the same reports")
    agreement = _f1(mean_weighted_f1(rules, model)) if len(rules) else None
    ok = agreement is not None and agreement >= thresholds.min_agreement
    return {
        "basis": "rules",
        "status": STATUS_RULES_AGREEMENT if ok else STATUS_FAILED,
        "reason": (f"agrees with the rules at mean weighted F1 {agreement:.3f} on {len(rules)} held-back report(s)"
                   if agreement is not None else "no held-back reports to compare on")
        + ("" if ok else f"; needs {thresholds.min_agreement:.2f} to confirm the rules"),
        "reports": len(rules),
        "agreement_with_rules": agreement,
        "observations": [{"observation": name, "serves": False, "reason": "no gold yet: the rules pre-fill"}
                         for name in OBSERVATION_NAMES],
        "thresholds": thresholds.__dict__,
    }
