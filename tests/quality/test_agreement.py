"""quality.agreement and the bootstrap/confusion helpers of quality.metrics, cross-checked against
scikit-learn and the krippendorff package on fixed data. No Django."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from labeling.observations import OBSERVATION_NAMES, blank_labels
from quality.agreement import (
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha_nominal,
    pabak,
    percent_agreement,
    reader_agreement,
)
from quality.metrics import (
    MISSING,
    Bootstrap,
    kappa_from_confusion,
    label_codes,
    mapping_apply,
    scores_against_reference,
    weighted_f1,
)

RNG = np.random.default_rng(7)
N = 120
BASE = RNG.integers(0, 4, size=N)
# Five readers who mostly agree with a latent label; about a third of reads missing.
READS = np.where(RNG.random((N, 5)) < 0.75, BASE[:, None], RNG.integers(0, 4, size=(N, 5)))
READS[RNG.random((N, 5)) < 0.35] = MISSING


def _alpha_reference(ratings: np.ndarray) -> float:
    return float(krippendorff.alpha(reliability_data=np.where(ratings < 0, np.nan, ratings).T.astype(float),
                                     level_of_measurement="nominal"))


def test_krippendorff_alpha_matches_package_with_missing_reads() -> None:
    assert krippendorff_alpha_nominal(READS, 4) == pytest.approx(_alpha_reference(READS), abs=1e-9)
    two = READS[:, :2].copy()
    assert krippendorff_alpha_nominal(two, 4) == pytest.approx(_alpha_reference(two), abs=1e-9)


def test_fleiss_kappa_textbook_example() -> None:
    # Fleiss (1971) / Wikipedia: 10 subjects, 14 raters, 5 categories, kappa = 0.210.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = np.array([[c for c in range(5) for _ in range(row[c])] for row in table])
    assert fleiss_kappa(ratings, 5) == pytest.approx(0.20993, abs=1e-5)
    assert percent_agreement(ratings, 5) == pytest.approx(0.37802, abs=1e-5)


def test_two_reader_pabak_ac1_by_hand() -> None:
    # 2x2 table: both yes 40, both no 45, yes/no 5, no/yes 10 (Gwet's book style example).
    a = np.array([0] * 40 + [1] * 45 + [0] * 5 + [1] * 10)
    b = np.array([0] * 40 + [1] * 45 + [1] * 5 + [0] * 10)
    ratings = np.stack([a, b], axis=1)
    po = 85 / 100
    assert percent_agreement(ratings, 2) == pytest.approx(po)
    assert pabak(ratings, 2) == pytest.approx(2 * po - 1)
    pi = (45 + 50) / 200
    pe = 2 * pi * (1 - pi)
    assert gwet_ac1(ratings, 2) == pytest.approx((po - pe) / (1 - pe))


def test_rare_finding_kappa_low_but_ac1_high() -> None:
    # Pneumothorax-like: 2 positives in 100, readers disagree on one of them.
    a = np.array([0, 0] + [1] * 98)
    b = np.array([0, 1] + [1] * 98)
    ratings = np.stack([a, b], axis=1)
    assert cohen_kappa_score(a, b) < 0.7 < gwet_ac1(ratings, 2)
    assert pabak(ratings, 2) == pytest.approx(0.98)


def test_single_class_and_no_data() -> None:
    same = np.zeros((10, 2), dtype=int)
    assert np.isnan(fleiss_kappa(same, 4)) and np.isnan(krippendorff_alpha_nominal(same, 4))
    assert gwet_ac1(same, 4) == pytest.approx(1.0) and pabak(same, 4) == pytest.approx(1.0)
    one_read = np.array([[0, MISSING], [1, MISSING]])
    assert np.isnan(percent_agreement(one_read, 4)) and np.isnan(fleiss_kappa(one_read, 4))


def _ratings3d(reads: np.ndarray) -> np.ndarray:
    r = np.full((reads.shape[0], reads.shape[1], len(OBSERVATION_NAMES)), 3, dtype=np.int8)  # blank elsewhere
    r[reads == MISSING] = MISSING
    r[:, :, 10] = reads  # Pleural Effusion
    return r


def test_reader_agreement_pairs_match_sklearn_and_mean() -> None:
    ratings = _ratings3d(READS)
    result = reader_agreement(ratings, readers=list("ABCDE"), bootstrap=Bootstrap(N, n_resamples=200, seed=1))
    assert len(result["pairs"]) == 10
    kappas = []
    for pair in result["pairs"]:
        a, b = "ABCDE".index(pair["reader_a"]), "ABCDE".index(pair["reader_b"])
        both = (READS[:, a] != MISSING) & (READS[:, b] != MISSING)
        expected = cohen_kappa_score(READS[both, a], READS[both, b])
        assert pair["n"] == both.sum()
        assert pair["observations"][10]["kappa"]["value"] == pytest.approx(expected)
        kappas.append(expected)
    eff = result["observations"][10]
    assert eff["cohen_kappa_mean"]["value"] == pytest.approx(np.mean(kappas))
    assert eff["krippendorff_alpha"]["value"] == pytest.approx(_alpha_reference(READS))
    assert eff["n"] == int(((READS != MISSING).sum(axis=1) >= 2).sum())
    # All-blank observations: everyone agrees, kappa-type figures undefined.
    assert result["observations"][0]["fleiss_kappa"]["value"] is None
    assert result["observations"][0]["percent_agreement"]["value"] == pytest.approx(1.0)


def test_one_reader_has_no_pairs() -> None:
    result = reader_agreement(_ratings3d(READS[:, :1]), bootstrap=Bootstrap(N, n_resamples=50, seed=1))
    assert result["pairs"] == [] and result["overall"]["n"] == 0
    assert result["overall"]["cohen_kappa_mean"] == {"value": None, "low": None, "high": None}


def test_bootstrap_interval_contains_estimate_and_is_deterministic() -> None:
    ratings = _ratings3d(READS)
    run = lambda seed, **kw: reader_agreement(ratings, bootstrap=Bootstrap(N, n_resamples=300, seed=seed, **kw))  # noqa: E731
    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first != other
    assert run(3, max_cached=0) == first  # regenerated blocks equal the cached weights
    for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "pabak", "gwet_ac1", "cohen_kappa_mean"):
        iv = first["observations"][10][key]
        assert iv["low"] <= iv["value"] <= iv["high"], key
        assert iv["high"] - iv["low"] > 0.01
    weights = next(iter(Bootstrap(N, n_resamples=7, seed=0).blocks()))[1]
    assert weights.shape == (7, N) and (weights.sum(axis=1) == N).all()


def _dicts(codes: np.ndarray) -> list[dict[str, str]]:
    names = ("positive", "negative", "uncertain", "blank")
    rows = []
    for c in codes:
        row = blank_labels()
        row["Pleural Effusion"] = names[c]
        rows.append(row)
    return rows


def test_scores_against_reference_match_sklearn_and_existing_functions() -> None:
    gold = BASE
    pred = np.where(RNG.random(N) < 0.7, gold, RNG.integers(0, 4, size=N))
    g, p = label_codes(_dicts(gold)), label_codes(_dicts(pred))
    res = scores_against_reference(g, p, bootstrap=Bootstrap(N, n_resamples=200, seed=0))
    eff = res["observations"][10]
    assert eff["kappa"]["value"] == pytest.approx(cohen_kappa_score(gold, pred))
    assert eff["weighted_f1"]["value"] == pytest.approx(f1_score(gold, pred, labels=[0, 1, 2], average="weighted", zero_division=0))
    assert eff["weighted_f1"]["value"] == pytest.approx(weighted_f1(_dicts(gold), _dicts(pred), "Pleural Effusion"))
    for c, name in enumerate(("positive", "negative", "uncertain")):
        assert eff["classes"][name]["f1"]["value"] == pytest.approx(f1_score(gold == c, pred == c, zero_division=0))
    assert eff["weighted_f1"]["low"] <= eff["weighted_f1"]["value"] <= eff["weighted_f1"]["high"]
    # Only Pleural Effusion has support: the headline is its weighted F1.
    assert res["mean_weighted_f1"]["value"] == pytest.approx(eff["weighted_f1"]["value"])
    assert res["observations"][0]["weighted_f1"]["value"] is None


def test_missing_predictions_are_left_out() -> None:
    g = label_codes(_dicts(BASE[:10]))
    p = g.copy()
    p[:4] = MISSING
    res = scores_against_reference(g, p)
    assert res["n"] == 6 and res["observations"][10]["n"] == 6


def test_mapping_apply_and_single_class_kappa() -> None:
    raw = np.array([0, 1, 2, 3, MISSING])
    assert mapping_apply(raw, "u-ones").tolist() == [0, 1, 0, 1, MISSING]
    assert mapping_apply(raw, "u-zeros").tolist() == [0, 1, 1, 1, MISSING]
    assert mapping_apply(raw, "full").tolist() == [0, 1, 2, 3, MISSING]
    cm = np.zeros((4, 4))
    cm[1, 1] = 5
    assert np.isnan(kappa_from_confusion(cm))
    with pytest.raises(ValueError, match="label mapping"):
        mapping_apply(raw, "u-maybe")
