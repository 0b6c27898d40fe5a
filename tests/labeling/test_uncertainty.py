"""Uncertainty policies (labeling.uncertainty): parsing every spelling, and that
only uncertain values change (blank stays blank)."""

from __future__ import annotations

import pytest

from labeling.observations import OBSERVATION_NAMES, blank_labels
from labeling.uncertainty import AS_IS_POLICY, UncertaintyPolicyError, uncertainty_policy_apply, uncertainty_policy_parse


def _labels(**values: str) -> dict[str, str]:
    result = blank_labels()
    for key, value in values.items():
        result[next(n for n in OBSERVATION_NAMES if n.lower() == key.replace("_", " ").lower())] = value
    return result


MIXED = _labels(no_finding="blank", atelectasis="uncertain", edema="uncertain", cardiomegaly="positive",
                pleural_effusion="negative", pneumonia="uncertain")


@pytest.mark.parametrize("spec", [None, "", "as-is", "AS-IS", " as-is "])
def test_as_is_changes_nothing(spec: str | None) -> None:
    policy = uncertainty_policy_parse(spec)
    assert policy.is_identity and policy.spec == "as-is"
    assert policy.apply(MIXED) == MIXED
    assert uncertainty_policy_apply(MIXED, None) == MIXED and uncertainty_policy_apply(MIXED, AS_IS_POLICY) == MIXED


@pytest.mark.parametrize(("spec", "target"), [("positive", "positive"), ("u-ones", "positive"), ("negative", "negative"),
                                              ("U-Zeros", "negative"), ("blank", "blank"), ("hedged-absent", "blank")])
def test_global_policies_change_every_uncertain_value_and_nothing_else(spec: str, target: str) -> None:
    out = uncertainty_policy_parse(spec).apply(MIXED)
    for name in OBSERVATION_NAMES:
        expected = target if MIXED[name] == "uncertain" else MIXED[name]
        assert out[name] == expected, name
    assert out["Fracture"] == "blank"  # blank stays blank
    assert MIXED["Atelectasis"] == "uncertain"  # the input is not changed


def test_per_observation_policy() -> None:
    policy = uncertainty_policy_parse("Atelectasis=positive, edema=NEGATIVE")
    out = policy.apply(MIXED)
    assert (out["Atelectasis"], out["Edema"], out["Pneumonia"]) == ("positive", "negative", "uncertain")
    assert policy.spec == "Edema=negative,Atelectasis=positive"  # CheXpert order


def test_bare_value_sets_the_rest() -> None:
    policy = uncertainty_policy_parse("Atelectasis=positive,negative")
    out = policy.apply(MIXED)
    assert (out["Atelectasis"], out["Edema"], out["Pneumonia"]) == ("positive", "negative", "negative")
    assert policy.spec == "negative,Atelectasis=positive"
    keep = uncertainty_policy_parse("positive,Edema=as-is").apply(MIXED)
    assert (keep["Atelectasis"], keep["Edema"]) == ("positive", "uncertain")


@pytest.mark.parametrize(("spec", "fragment"), [
    ("maybe", "'maybe' is not a policy value"),
    ("Atelectasis=yes", "Atelectasis: 'yes' is not a policy value"),
    ("Atelectasys=positive", "unknown observation 'Atelectasys'"),
    ("Edema=positive,Edema=negative", "'Edema' is given twice"),
    ("positive,negative", "two policies for all observations"),
    ("hedged-absent,Edema=positive", "'hedged-absent' is a whole policy"),
])
def test_bad_specs_say_what_is_wrong(spec: str, fragment: str) -> None:
    with pytest.raises(UncertaintyPolicyError, match=fragment):
        uncertainty_policy_parse(spec)
    assert issubclass(UncertaintyPolicyError, ValueError)
