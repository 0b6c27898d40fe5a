"""The promotion gate: per observation on gold, by agreement with the rules without gold."""

from __future__ import annotations

from labeling.routing import model_is_usable, routing_table
from quality.gate import GateThresholds, gate_on_gold, gate_on_rules
from tests.factories import labels

SMALL = GateThresholds(min_gold_reports=10, min_positives=3, n_resamples=200)


def _rows(edema: list[str]) -> list[dict[str, str]]:
    return [labels(edema=v) for v in edema]


def test_model_serves_an_observation_only_where_it_beats_the_rules_on_the_same_reports() -> None:
    gold = _rows(["positive"] * 10 + ["negative"] * 10)
    rules = _rows(["positive"] * 6 + ["negative"] * 14)  # misses 4 positives
    model = _rows(["positive"] * 10 + ["negative"] * 10)  # perfect on edema
    gate = gate_on_gold(gold=gold, rules=rules, model=model, thresholds=SMALL)
    edema = next(o for o in gate["observations"] if o["observation"] == "Edema")
    assert edema["serves"] and edema["model_f1"] > edema["rules_f1"]
    assert edema["difference"]["value"] > 0 and edema["difference"]["low"] is not None
    assert gate["status"] == "gold" and routing_table(gate)["Edema"] == "model"
    assert routing_table(gate)["Cardiomegaly"] == "rules"  # too few positives: the rules keep it


def test_ties_and_too_little_gold_go_to_the_rules() -> None:
    gold = _rows(["positive"] * 10 + ["negative"] * 10)
    same = gate_on_gold(gold=gold, rules=gold, model=gold, thresholds=SMALL)
    assert same["status"] == "failed" and all(not o["serves"] for o in same["observations"])
    few = gate_on_gold(gold=gold[:5], rules=_rows(["negative"] * 5), model=gold[:5], thresholds=SMALL)
    edema = next(o for o in few["observations"] if o["observation"] == "Edema")
    assert not edema["serves"] and "too little gold" in edema["reason"]
    assert not model_is_usable(few)


def test_without_gold_a_model_only_confirms_the_rules_when_it_agrees_enough() -> None:
    rules = _rows(["positive", "negative", "uncertain", "blank"] * 10)
    good = gate_on_rules(rules=rules, model=rules)
    assert good["status"] == "rules_agreement" and model_is_usable(good)
    assert set(routing_table(good).values()) == {"rules"}  # it serves nothing alone
    weak = gate_on_rules(rules=rules, model=_rows(["positive"] * 40))
    assert weak["status"] == "failed" and not model_is_usable(weak) and "needs 0.90" in weak["reason"]
