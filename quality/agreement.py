"""Agreement between readers, per observation: one home for inter-reader statistics.

Plain Python + NumPy, no Django (``quality.metrics`` keeps rater-vs-gold
scores; this module reuses its label mappings, bootstrap and confusion helpers).

Ratings are category codes (``quality.metrics.label_codes``) with
``MISSING`` (-1) where a reader did not read a report:

- a 2-D array ``(n_reports, n_readers)`` for one observation (the scalar
  functions below), or
- a 3-D array ``(n_reports, n_readers, 14)`` for ``reader_agreement``.

Missing reads: every multi-reader figure uses the reports with at least two
reads (a single read carries no agreement information), each weighted as in
Krippendorff's coincidence matrix / Fleiss's per-item agreement:

- percent agreement p_o: mean over reports of the share of agreeing reader pairs;
- Fleiss' kappa: (p_o - p_e) / (1 - p_e), p_e = sum_k p_k^2 with p_k the share of
  all reads in category k (equals Fleiss 1971 when every report has the same
  number of reads);
- Krippendorff's alpha (nominal): 1 - (n - 1) D_o / D_e over pairable values;
- PABAK: (K p_o - 1) / (K - 1), K = number of categories of the mapping;
- Gwet's AC1: (p_o - p_e) / (1 - p_e), p_e = sum_k pi_k (1 - pi_k) / (K - 1),
  pi_k the mean over reports of the share of their reads in category k.

All are ratios of sums over reports, so the bootstrap (over reports) resamples
them with one matrix product. Undefined values are NaN (None in dicts).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from labeling.observations import OBSERVATION_NAMES
from quality.metrics import (
    MISSING,
    Bootstrap,
    LabelMapping,
    _div,
    confusion_counts,
    intervals,
    kappa_from_confusion,
    label_mapping_get,
)

# Per-report sufficient statistics, last axis of `item_features`:
# [0:K] reads per category, K: reads m, K+1: pair agreement P_i,
# K+2: sum_k n_k (n_k - 1) / (m - 1) (alpha), K+3: 1 (report counted), K+4:2K+4: n_k / m (AC1).


def _counts(ratings: np.ndarray, n_categories: int) -> np.ndarray:
    """Reads per category: (..., K) from ratings (n, R, ...) -> (n, ..., K)."""
    r = np.moveaxis(np.asarray(ratings, dtype=np.int64), 1, -1)  # (n, ..., R)
    return np.stack([(r == k).sum(axis=-1) for k in range(n_categories)], axis=-1).astype(np.float64)


def item_features(ratings: np.ndarray, n_categories: int) -> np.ndarray:
    """Per-report sufficient statistics (n, ..., 2K + 4); zero for reports with fewer than two reads."""
    k = n_categories
    counts = _counts(ratings, k)
    m = counts.sum(axis=-1)
    ok = m >= 2
    safe_m = np.where(ok, m, 2.0)
    same_pairs = (counts * (counts - 1)).sum(axis=-1)
    feats = np.concatenate(
        [
            counts,
            m[..., None],
            (same_pairs / (safe_m * (safe_m - 1)))[..., None],
            (same_pairs / (safe_m - 1))[..., None],
            np.ones_like(m)[..., None],
            counts / safe_m[..., None],
        ],
        axis=-1,
    )
    return np.where(ok[..., None], feats, 0.0)


def statistics_from_sums(sums: np.ndarray, n_categories: int) -> dict[str, np.ndarray]:
    """Every multi-reader figure from summed ``item_features`` (vectorised over leading axes)."""
    k = n_categories
    counts, m, pair, alpha_same, items, props = (
        sums[..., :k], sums[..., k], sums[..., k + 1], sums[..., k + 2], sums[..., k + 3], sums[..., k + 4 :],
    )
    po = _div(pair, items)
    pk = _div(counts, m[..., None])
    pe_fleiss = (pk**2).sum(axis=-1)
    pi = _div(props, items[..., None])
    pe_ac1 = (pi * (1 - pi)).sum(axis=-1) / (k - 1)
    expected = m**2 - (counts**2).sum(axis=-1)  # sum_{c != k} n_c n_k
    alpha = 1.0 - _div((m - 1) * (m - alpha_same), expected)
    return {
        "n": items,
        "percent_agreement": po,
        "fleiss_kappa": _div(po - pe_fleiss, 1.0 - pe_fleiss),
        "krippendorff_alpha": alpha,
        "pabak": (k * po - 1.0) / (k - 1),
        "gwet_ac1": _div(po - pe_ac1, 1.0 - pe_ac1),
    }


def _scalar(ratings: np.ndarray, n_categories: int, key: str) -> float:
    r = np.asarray(ratings)
    if r.ndim != 2:
        raise ValueError(f"ratings must be (reports, readers), got shape {r.shape}")
    sums = item_features(r, n_categories).sum(axis=0)
    return float(statistics_from_sums(sums, n_categories)[key])


def percent_agreement(ratings: np.ndarray, n_categories: int) -> float:
    """Mean share of agreeing reader pairs per report (reports with >= 2 reads); NaN if none."""
    return _scalar(ratings, n_categories, "percent_agreement")


def fleiss_kappa(ratings: np.ndarray, n_categories: int) -> float:
    """Fleiss' kappa, generalised to a varying number of reads per report (see module doc)."""
    return _scalar(ratings, n_categories, "fleiss_kappa")


def krippendorff_alpha_nominal(ratings: np.ndarray, n_categories: int) -> float:
    """Krippendorff's alpha for nominal data with missing reads (matches the ``krippendorff`` package)."""
    return _scalar(ratings, n_categories, "krippendorff_alpha")


def pabak(ratings: np.ndarray, n_categories: int) -> float:
    """Prevalence-adjusted bias-adjusted kappa, (K p_o - 1) / (K - 1)."""
    return _scalar(ratings, n_categories, "pabak")


def gwet_ac1(ratings: np.ndarray, n_categories: int) -> float:
    """Gwet's AC1 (multi-reader form; two complete readers give the classic two-rater AC1)."""
    return _scalar(ratings, n_categories, "gwet_ac1")


STATISTICS: tuple[tuple[str, str], ...] = (
    ("percent_agreement", "Percent agreement"),
    ("cohen_kappa_mean", "Cohen's κ (mean over pairs)"),
    ("fleiss_kappa", "Fleiss' κ"),
    ("krippendorff_alpha", "Krippendorff's α"),
    ("pabak", "PABAK"),
    ("gwet_ac1", "Gwet's AC1"),
)


def reader_agreement(
    ratings: np.ndarray,
    *,
    mapping: LabelMapping | str = "full",
    readers: Sequence[Any] | None = None,
    bootstrap: Bootstrap | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Agreement between readers per observation and overall, with bootstrap intervals.

    `ratings` is (n_reports, n_readers, 14) codes of `mapping`; `readers` names
    the reader columns (default 0..R-1); `bootstrap` resamples the reports
    (``Bootstrap(n_reports, ...)``). "Overall" pools every report x observation.

    Returns JSON-ready dicts: ``observations`` (one per observation) and
    ``overall``, each with ``n`` (reports with >= 2 reads) and an ``interval``
    dict per statistic in ``STATISTICS``; ``pairs``: one entry per pair of
    readers with a report in common, with ``n``, ``kappa`` (pooled) and
    per-observation ``observations`` [{observation, n, kappa}].
    """
    m = label_mapping_get(mapping) if isinstance(mapping, str) else mapping
    r = np.asarray(ratings, dtype=np.int8)
    if r.ndim != 3:
        raise ValueError(f"ratings must be (reports, readers, observations), got shape {r.shape}")
    n_reports, n_readers, n_obs = r.shape
    names = list(readers) if readers is not None else list(range(n_readers))
    k = m.n_categories

    def ci(v: Any, b: Any) -> Any:
        return intervals(v, b, confidence)

    feats = item_features(r, k)  # (n, 14, F)
    point_sums = feats.sum(axis=0)
    boot_sums = bootstrap.sums(feats) if bootstrap is not None else point_sums[None]
    point = statistics_from_sums(point_sums, k)
    boot = statistics_from_sums(boot_sums, k)
    point_all = statistics_from_sums(point_sums.sum(axis=0), k)
    boot_all = statistics_from_sums(boot_sums.sum(axis=1), k)

    # Cohen's kappa of every pair, on the reports both read.
    pairs = []
    pair_obs_point, pair_obs_boot, pair_all_point, pair_all_boot = [], [], [], []
    for a, b in itertools.combinations(range(n_readers), 2):
        both = np.nonzero(((r[:, a, :] != MISSING) & (r[:, b, :] != MISSING)).any(axis=1))[0]
        if both.size == 0:
            # A pair with no shared report is listed as such (n 0, nothing to compare), not left out.
            nothing = {"value": None, "low": None, "high": None}
            pairs.append({"reader_a": names[a], "reader_b": names[b], "n": 0, "kappa": nothing,
                          "observations": [{"observation": obs, "n": 0, "kappa": nothing} for obs in OBSERVATION_NAMES[:n_obs]]})
            continue
        onehot = confusion_counts(r[both, a, :], r[both, b, :], k)  # (n_ab, 14, K, K)
        cm = onehot.sum(axis=0, dtype=np.float64)
        cm_b = bootstrap.sums(onehot, both) if bootstrap is not None else cm[None]
        kap, kap_b = kappa_from_confusion(cm), kappa_from_confusion(cm_b)
        kap_all, kap_all_b = kappa_from_confusion(cm.sum(axis=0)), kappa_from_confusion(cm_b.sum(axis=1))
        kap_i = ci(kap, kap_b)
        pair_obs_point.append(kap)
        pair_obs_boot.append(kap_b)
        pair_all_point.append(kap_all)
        pair_all_boot.append(kap_all_b)
        pairs.append(
            {
                "reader_a": names[a],
                "reader_b": names[b],
                "n": int(both.size),
                "kappa": ci(kap_all, kap_all_b),
                "observations": [
                    {"observation": obs, "n": int(cm[j].sum()), "kappa": kap_i[j]}
                    for j, obs in enumerate(OBSERVATION_NAMES[:n_obs])
                ],
            }
        )
    n_boot = boot_sums.shape[0]
    if pairs:
        with np.errstate(all="ignore"):
            mean_obs = _nanmean(np.stack(pair_obs_point), axis=0)  # (14,)
            mean_obs_b = _nanmean(np.stack(pair_obs_boot), axis=0)  # (B, 14)
            mean_all = _nanmean(np.array(pair_all_point), axis=0)
            mean_all_b = _nanmean(np.stack(pair_all_boot), axis=0)  # (B,)
    else:
        mean_obs, mean_obs_b = np.full(n_obs, np.nan), np.full((n_boot, n_obs), np.nan)
        mean_all, mean_all_b = np.array(np.nan), np.full(n_boot, np.nan)

    def stat_intervals(p: dict[str, np.ndarray], b: dict[str, np.ndarray], kap: Any, kap_b: Any) -> dict[str, Any]:
        return {key: ci(kap, kap_b) if key == "cohen_kappa_mean" else ci(p[key], b[key]) for key, _ in STATISTICS}

    per_obs = stat_intervals(point, boot, mean_obs, mean_obs_b)
    observations = [
        {"observation": obs, "n": int(round(float(point["n"][j]))), **{key: per_obs[key][j] for key, _ in STATISTICS}}
        for j, obs in enumerate(OBSERVATION_NAMES[:n_obs])
    ]
    # n = reports with two reads or more; the pooled figures count each report x observation once.
    overall = {"n": int(round(float(point["n"].max()))) if n_obs else 0, **stat_intervals(point_all, boot_all, mean_all, mean_all_b)}
    return {
        "n_readers": int(n_readers),
        "n_reports": int(n_reports),
        "observations": observations,
        "overall": overall,
        "pairs": pairs,
    }


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=axis)


__all__ = [
    "STATISTICS",
    "fleiss_kappa",
    "gwet_ac1",
    "item_features",
    "krippendorff_alpha_nominal",
    "pabak",
    "percent_agreement",
    "reader_agreement",
    "statistics_from_sums",
]
