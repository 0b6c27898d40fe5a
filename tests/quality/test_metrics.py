"""quality.metrics, cross-checked against scikit-learn on fixed data. No Django."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from labeling.observations import OBSERVATION_NAMES, LabelValue, Observation, blank_labels
from quality.metrics import (
    LABEL_ORDER,
    SCORED_CLASSES,
    cohen_kappa,
    confusion_matrix,
    evaluation_report,
    format_positive_only_table,
    format_report_table,
    mean_weighted_f1,
    observation_kappa,
    per_class_prf,
    positive_only_scores,
    weighted_f1,
)

EFF = "Pleural Effusion"


def rows(values: list[str], observation: str = EFF) -> list[dict[str, str]]:
    out = []
    for v in values:
        labels = blank_labels()
        labels[observation] = v
        out.append(labels)
    return out


def random_labels(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{name: rng.choice(LABEL_ORDER) for name in OBSERVATION_NAMES} for _ in range(n)]


GOLD = random_labels(300, seed=1)
PRED = random_labels(300, seed=2)
# A second prediction that mostly agrees with gold, so scores are not all near chance.
NEAR = [
    {k: (v if random.Random(i * 31 + j).random() < 0.8 else "blank") for j, (k, v) in enumerate(g.items())}
    for i, g in enumerate(GOLD)
]


@pytest.mark.parametrize("pred", [PRED, NEAR])
@pytest.mark.parametrize("observation", OBSERVATION_NAMES)
def test_per_class_prf_matches_sklearn(pred: list[dict[str, str]], observation: str) -> None:
    g = [r[observation] for r in GOLD]
    p = [r[observation] for r in pred]
    ps, rs, fs, ss = precision_recall_fscore_support(g, p, labels=list(SCORED_CLASSES), zero_division=0)
    ours = per_class_prf(GOLD, pred, observation)
    for i, cls in enumerate(SCORED_CLASSES):
        assert ours[cls].precision == pytest.approx(ps[i])
        assert ours[cls].recall == pytest.approx(rs[i])
        assert ours[cls].f1 == pytest.approx(fs[i])
        assert ours[cls].support == ss[i]


@pytest.mark.parametrize("pred", [PRED, NEAR])
@pytest.mark.parametrize("observation", OBSERVATION_NAMES)
def test_weighted_f1_matches_sklearn(pred: list[dict[str, str]], observation: str) -> None:
    g = [r[observation] for r in GOLD]
    p = [r[observation] for r in pred]
    # CheXbert's evaluation scores No Finding on its positive class only.
    scored = ["positive"] if observation == "No Finding" else list(SCORED_CLASSES)
    expected = f1_score(g, p, labels=scored, average="weighted", zero_division=0)
    assert weighted_f1(GOLD, pred, observation) == pytest.approx(expected)


def test_mean_weighted_f1_is_the_mean_over_observations() -> None:
    expected = np.mean([weighted_f1(GOLD, NEAR, o) for o in OBSERVATION_NAMES])
    assert mean_weighted_f1(GOLD, NEAR) == pytest.approx(expected)
    assert mean_weighted_f1(GOLD, GOLD) == pytest.approx(1.0)


def test_weighted_f1_without_support_is_none_and_skipped_by_the_mean() -> None:
    gold = rows(["blank", "blank"])  # no support for anything
    pred = rows(["positive", "blank"])
    assert weighted_f1(gold, pred, EFF) is None
    assert math.isnan(mean_weighted_f1(gold, pred))
    # One observation with support: the mean is its score alone, not diluted by zeros.
    gold = rows(["positive", "negative"])
    pred = rows(["positive", "positive"])
    assert mean_weighted_f1(gold, pred) == pytest.approx(weighted_f1(gold, pred, EFF))


def test_weighted_f1_single_class() -> None:
    gold = rows(["positive"] * 4)
    assert weighted_f1(gold, gold, EFF) == 1.0
    pred = rows(["positive", "positive", "blank", "negative"])
    expected = f1_score(["positive"] * 4, [r[EFF] for r in pred], labels=list(SCORED_CLASSES),
                        average="weighted", zero_division=0)
    assert weighted_f1(gold, pred, EFF) == pytest.approx(expected)


def test_empty_input() -> None:
    assert weighted_f1([], [], EFF) is None
    assert math.isnan(mean_weighted_f1([], []))
    assert math.isnan(cohen_kappa([], []))
    assert confusion_matrix([], [], EFF).sum() == 0
    scores = positive_only_scores([], [], count_uncertain_as_positive=True)
    assert scores.micro.f1 == 0.0 and scores.micro.support == 0
    report = evaluation_report([], [])
    json.dumps(report.as_dict())


@pytest.mark.parametrize("observation", [Observation.CARDIOMEGALY, "Cardiomegaly"])
def test_confusion_matrix_matches_sklearn(observation: Observation | str) -> None:
    g = [r["Cardiomegaly"] for r in GOLD]
    p = [r["Cardiomegaly"] for r in PRED]
    expected = sk_confusion_matrix(g, p, labels=list(LABEL_ORDER))
    assert np.array_equal(confusion_matrix(GOLD, PRED, observation), expected)


def test_confusion_matrix_order() -> None:
    assert LABEL_ORDER == ("positive", "negative", "uncertain", "blank")
    m = confusion_matrix(rows(["positive"]), rows(["blank"]), EFF)
    assert m[0, 3] == 1 and m.sum() == 1


@pytest.mark.parametrize("pred", [PRED, NEAR])
def test_cohen_kappa_matches_sklearn(pred: list[dict[str, str]]) -> None:
    for observation in OBSERVATION_NAMES:
        g = [r[observation] for r in GOLD]
        p = [r[observation] for r in pred]
        assert cohen_kappa(g, p) == pytest.approx(cohen_kappa_score(g, p))
        assert observation_kappa(GOLD, pred, observation) == pytest.approx(cohen_kappa_score(g, p))


def test_cohen_kappa_edge_cases() -> None:
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    # One single label used by both raters: expected agreement 1, kappa undefined.
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    # Systematic disagreement.
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(cohen_kappa_score(["a", "b"], ["b", "a"]))
    with pytest.raises(ValueError):
        cohen_kappa(["a"], [])


@pytest.mark.parametrize("count_uncertain", [False, True])
def test_positive_only_scores_match_sklearn(count_uncertain: bool) -> None:
    hits = {"positive", "uncertain"} if count_uncertain else {"positive"}
    scores = positive_only_scores(GOLD, NEAR, count_uncertain_as_positive=count_uncertain)
    all_g, all_p = [], []
    for observation in OBSERVATION_NAMES:
        g = [int(r[observation] == "positive") for r in GOLD]
        p = [int(r[observation] in hits) for r in NEAR]
        all_g += g
        all_p += p
        ps, rs, fs, _ = precision_recall_fscore_support(g, p, average="binary", zero_division=0)
        ours = scores.per_observation[observation]
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx((ps, rs, fs))
        assert ours.support == sum(g)
    assert scores.micro.f1 == pytest.approx(f1_score(all_g, all_p, zero_division=0))


def test_positive_only_scores_subset_and_no_positive() -> None:
    gold = rows(["blank", "negative"])
    pred = rows(["positive", "uncertain"])
    strict = positive_only_scores(gold, pred, False, observations=[EFF])
    assert list(strict.per_observation) == [EFF]
    assert strict.per_observation[EFF].support == 0
    assert strict.per_observation[EFF].f1 == 0.0  # zero_division=0, documented
    assert strict.per_observation[EFF].predicted == 1
    lenient = positive_only_scores(gold, pred, True, observations=[EFF])
    assert lenient.per_observation[EFF].predicted == 2


def test_label_values_as_enum_members() -> None:
    gold = rows([LabelValue.POSITIVE, LabelValue.NEGATIVE])  # type: ignore[list-item]
    pred = rows(["positive", "negative"])
    assert weighted_f1(gold, pred, EFF) == 1.0


def test_validation_errors() -> None:
    with pytest.raises(ValueError, match="aligned"):
        weighted_f1(rows(["positive"]), [], EFF)
    with pytest.raises(ValueError, match="not a label value"):
        weighted_f1(rows(["1.0"]), rows(["positive"]), EFF)
    with pytest.raises(ValueError, match="unknown observation"):
        weighted_f1(rows(["positive"]), rows(["positive"]), "Pneumonitis")
    with pytest.raises(ValueError, match="missing observation"):
        weighted_f1([{}], rows(["positive"]), EFF)


def test_evaluation_report_and_tables() -> None:
    report = evaluation_report(GOLD, NEAR)
    assert report.n_reports == len(GOLD)
    assert [r.observation for r in report.rows] == list(OBSERVATION_NAMES)
    assert report.mean_weighted_f1 == pytest.approx(mean_weighted_f1(GOLD, NEAR))
    data = report.as_dict()
    json.dumps(data)
    assert data["observations"][0]["confusion"]["order"] == list(LABEL_ORDER)
    table = format_report_table(report)
    assert "Pleural Effusion" in table and "mean weighted F1" in table
    pos_table = format_positive_only_table(report.positive_only, report.positive_or_uncertain)
    assert "micro average" in pos_table
