"""Agreement and accuracy metrics for CheXpert-style labels, one shared definition.

Plain Python + NumPy, no Django: used by the rule-labeler benchmarks, the
statistics pages and model selection. Inputs are aligned sequences of
``LabelDict`` (observation name -> "positive" / "negative" / "uncertain" /
"blank"); ``LabelValue`` members are accepted wherever a value string is.

Conventions (all documented where they apply):
- Precision, recall and F1 are 0.0 when their denominator is 0 (scikit-learn's
  ``zero_division=0``), so a class that is never predicted scores 0, not NaN.
- A score that has no meaning at all (weighted F1 of an observation with no
  positive, negative or uncertain gold label; kappa of empty input or of
  raters who both use one single label) is ``None`` / ``nan``, never 0, so
  averages can skip it explicitly.
- Matrices and tables use ``LABEL_ORDER``: positive, negative, uncertain, blank.

Command line: ``python -m quality.metrics GOLD.csv PRED.csv [--json]`` reads two
CheXpert-format label files (matched by id) and prints the evaluation table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labeling.observations import OBSERVATION_NAMES, LabelValue, Observation

LABEL_ORDER: tuple[str, ...] = (
    LabelValue.POSITIVE.value,
    LabelValue.NEGATIVE.value,
    LabelValue.UNCERTAIN.value,
    LabelValue.BLANK.value,
)
SCORED_CLASSES: tuple[str, ...] = LABEL_ORDER[:3]  # blank is "not mentioned", never a scored class
NO_FINDING = Observation.NO_FINDING.value
_VALID = frozenset(LABEL_ORDER)

LabelSeq = Sequence[Mapping[str, Any]]


# --------------------------------------------------------------------------- helpers


def _name(observation: Observation | str) -> str:
    name = observation.value if isinstance(observation, Observation) else str(observation)
    if name not in OBSERVATION_NAMES:
        raise ValueError(f"unknown observation: {name!r}")
    return name


def _value(raw: Any, *, where: str) -> str:
    value = raw.value if isinstance(raw, LabelValue) else raw
    if value not in _VALID:
        raise ValueError(f"{where}: not a label value: {raw!r} (expected one of {', '.join(LABEL_ORDER)})")
    return str(value)


def _column(labels: LabelSeq, name: str, which: str) -> list[str]:
    out = []
    for i, row in enumerate(labels):
        if name not in row:
            raise ValueError(f"{which}[{i}]: missing observation {name!r}")
        out.append(_value(row[name], where=f"{which}[{i}][{name!r}]"))
    return out


def _aligned(gold: LabelSeq, pred: LabelSeq) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred must be aligned: {len(gold)} vs {len(pred)} reports")


def _safe_div(num: float, den: float) -> float:
    return float(num) / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class ClassScores:
    """Precision/recall/F1 of one class; `support` counts gold, `predicted` counts pred."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    true_positives: int

    @classmethod
    def from_counts(cls, tp: int, support: int, predicted: int) -> ClassScores:
        p, r = _safe_div(tp, predicted), _safe_div(tp, support)
        return cls(p, r, _f1(p, r), support, predicted, tp)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "predicted": self.predicted,
            "true_positives": self.true_positives,
        }


# --------------------------------------------------------------------------- per observation


def confusion_matrix(gold: LabelSeq, pred: LabelSeq, observation: Observation | str) -> np.ndarray:
    """4x4 counts, rows = gold, columns = pred, both in ``LABEL_ORDER``."""
    _aligned(gold, pred)
    name = _name(observation)
    index = {v: i for i, v in enumerate(LABEL_ORDER)}
    matrix = np.zeros((4, 4), dtype=np.int64)
    for g, p in zip(_column(gold, name, "gold"), _column(pred, name, "pred"), strict=True):
        matrix[index[g], index[p]] += 1
    return matrix


def per_class_prf(gold: LabelSeq, pred: LabelSeq, observation: Observation | str) -> dict[str, ClassScores]:
    """Scores of positive, negative and uncertain (one-vs-rest; blank counts as "other")."""
    matrix = confusion_matrix(gold, pred, observation)
    result = {}
    for i, cls in enumerate(SCORED_CLASSES):
        result[cls] = ClassScores.from_counts(int(matrix[i, i]), int(matrix[i].sum()), int(matrix[:, i].sum()))
    return result


def weighted_f1(gold: LabelSeq, pred: LabelSeq, observation: Observation | str) -> float | None:
    """CheXbert's weighted F1: F1 of positive, negative, uncertain weighted by gold support;
    for No Finding only the positive class counts, as in CheXbert's evaluation code
    (its negative/uncertain values mean "something else is present", not a finding).

    Returns None when the gold labels have no positive, negative or uncertain
    value for this observation (all blank, or no reports): there is nothing to
    score, and 0 would wrongly penalise the model in an average.
    Equals scikit-learn's ``f1_score(labels=[pos, neg, unc], average="weighted",
    zero_division=0)``.
    """
    scores = per_class_prf(gold, pred, observation)
    if _name(observation) == NO_FINDING:
        positive = scores[SCORED_CLASSES[0]]
        return positive.f1 if positive.support else None
    total = sum(s.support for s in scores.values())
    if total == 0:
        return None
    return sum(s.f1 * s.support for s in scores.values()) / total


def mean_weighted_f1(gold: LabelSeq, pred: LabelSeq, observations: Iterable[Observation | str] | None = None) -> float:
    """Mean of ``weighted_f1`` over the observations that have gold support.

    `observations` defaults to all 14. Observations without support are left
    out of the mean (not counted as 0). Returns ``nan`` when none has support;
    model selection must treat nan as "no information" (``math.isnan``).
    """
    names = [_name(o) for o in observations] if observations is not None else list(OBSERVATION_NAMES)
    values = [f for f in (weighted_f1(gold, pred, n) for n in names) if f is not None]
    return float(np.mean(values)) if values else math.nan


# --------------------------------------------------------------------------- positive-only gold


@dataclass(frozen=True)
class PositiveOnlyScores:
    """Binary scores against positive-only gold (gold positive vs anything else)."""

    per_observation: dict[str, ClassScores]
    micro: ClassScores
    count_uncertain_as_positive: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "count_uncertain_as_positive": self.count_uncertain_as_positive,
            "per_observation": {k: v.as_dict() for k, v in self.per_observation.items()},
            "micro": self.micro.as_dict(),
        }


def positive_only_scores(
    gold: LabelSeq,
    pred: LabelSeq,
    count_uncertain_as_positive: bool,
    observations: Iterable[Observation | str] | None = None,
) -> PositiveOnlyScores:
    """Per-observation and micro-averaged P/R/F1 for positive-only reference labels.

    Gold is 1 where it is "positive" and 0 otherwise (negative, blank; an
    "uncertain" gold value is also 0: a positive-only reference does not use
    it). Pred is 1 where "positive", or "positive"/"uncertain" when
    `count_uncertain_as_positive`. The micro average pools the counts of the
    chosen observations (default all 14, No Finding included).
    """
    _aligned(gold, pred)
    names = [_name(o) for o in observations] if observations is not None else list(OBSERVATION_NAMES)
    hits = {LabelValue.POSITIVE.value}
    if count_uncertain_as_positive:
        hits.add(LabelValue.UNCERTAIN.value)
    per: dict[str, ClassScores] = {}
    tot_tp = tot_support = tot_pred = 0
    for name in names:
        g = np.array([v == LabelValue.POSITIVE.value for v in _column(gold, name, "gold")], dtype=bool)
        p = np.array([v in hits for v in _column(pred, name, "pred")], dtype=bool)
        tp, support, predicted = int((g & p).sum()), int(g.sum()), int(p.sum())
        per[name] = ClassScores.from_counts(tp, support, predicted)
        tot_tp, tot_support, tot_pred = tot_tp + tp, tot_support + support, tot_pred + predicted
    return PositiveOnlyScores(per, ClassScores.from_counts(tot_tp, tot_support, tot_pred), count_uncertain_as_positive)


# --------------------------------------------------------------------------- agreement


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two aligned label sequences (any hashable labels).

    ``nan`` when undefined: empty input, or expected agreement 1 (both raters
    used one and the same label throughout), as scikit-learn's
    ``cohen_kappa_score``.
    """
    if len(a) != len(b):
        raise ValueError(f"sequences must be aligned: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return math.nan
    labels = sorted(set(a) | set(b), key=str)
    index = {v: i for i, v in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.float64)
    for x, y in zip(a, b, strict=True):
        matrix[index[x], index[y]] += 1
    observed = np.trace(matrix) / n
    expected = float((matrix.sum(axis=1) * matrix.sum(axis=0)).sum()) / (n * n)
    if expected == 1.0:
        return math.nan
    return float((observed - expected) / (1.0 - expected))


def observation_kappa(a: LabelSeq, b: LabelSeq, observation: Observation | str) -> float:
    """Cohen's kappa of two raters' LabelDicts on one observation (4 values)."""
    _aligned(a, b)
    name = _name(observation)
    return cohen_kappa(_column(a, name, "a"), _column(b, name, "b"))


# --------------------------------------------------------------------------- label mappings


@dataclass(frozen=True)
class LabelMapping:
    """How the four label values are grouped into the categories a figure compares.

    ``lookup[i]`` is the category code of ``LABEL_ORDER[i]``; category 0 is always
    "positive" (sensitivity and specificity read it as the finding being present).
    ``scored`` are the category codes that get precision/recall/F1 and enter the
    weighted F1 (blank is never scored).
    """

    name: str
    title: str
    categories: tuple[str, ...]
    scored: tuple[int, ...]
    lookup: tuple[int, ...]

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "categories": list(self.categories)}


# The CheXpert papers' uncertainty policies: U-Ones reads "uncertain" as
# positive, U-Zeros as negative; both read blank (not mentioned) as negative.
MAPPINGS: dict[str, LabelMapping] = {
    "full": LabelMapping("full", "Full labels: positive, negative, uncertain, blank", LABEL_ORDER, (0, 1, 2), (0, 1, 2, 3)),
    "u-ones": LabelMapping(
        "u-ones", "U-Ones: uncertain counts as positive, blank as negative", ("positive", "negative"), (0, 1), (0, 1, 0, 1)
    ),
    "u-zeros": LabelMapping(
        "u-zeros", "U-Zeros: uncertain and blank count as negative", ("positive", "negative"), (0, 1), (0, 1, 1, 1)
    ),
}
MISSING = -1  # code of "no label" (a reader who did not read the report, a labeler without a prediction)


def label_mapping_get(name: str) -> LabelMapping:
    try:
        return MAPPINGS[name]
    except KeyError:
        raise ValueError(f"unknown label mapping: {name!r} (expected one of {', '.join(MAPPINGS)})") from None


_CODE = {v: i for i, v in enumerate(LABEL_ORDER)}


def label_codes(rows: Iterable[Mapping[str, Any] | None], mapping: LabelMapping | str = "full") -> np.ndarray:
    """(n, 14) int8 category codes in CheXpert column order; a None row is all ``MISSING``."""
    m = label_mapping_get(mapping) if isinstance(mapping, str) else mapping
    names = OBSERVATION_NAMES
    out = []
    for i, row in enumerate(rows):
        if row is None:
            out.append([MISSING] * len(names))
            continue
        try:
            out.append([_CODE[v.value if isinstance(v, LabelValue) else v] for v in (row[n] for n in names)])
        except KeyError:
            for n in names:  # slow path only to name the bad cell
                if n not in row:
                    raise ValueError(f"row {i}: missing observation {n!r}") from None
                _value(row[n], where=f"row {i}[{n!r}]")
            raise
    raw = np.array(out, dtype=np.int8).reshape(-1, len(names))
    return mapping_apply(raw, m)


def mapping_apply(raw_codes: np.ndarray, mapping: LabelMapping | str) -> np.ndarray:
    """Map ``LABEL_ORDER`` codes (``MISSING`` kept) to the mapping's category codes."""
    m = label_mapping_get(mapping) if isinstance(mapping, str) else mapping
    lookup = np.array(list(m.lookup) + [MISSING], dtype=np.int8)  # index -1 -> MISSING
    return lookup[raw_codes.astype(np.int64)]


# --------------------------------------------------------------------------- bootstrap


def interval(value: float, replicates: np.ndarray, confidence: float = 0.95) -> dict[str, float | None]:
    """``{"value", "low", "high"}``: the point estimate and the percentile bootstrap interval.

    NaN (undefined) becomes None; replicates where the figure is undefined are
    left out of the percentiles.
    """
    value = float(value)
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    tail = (1.0 - confidence) / 2 * 100
    if math.isnan(value) or reps.size == 0:
        low = high = None
    else:
        low, high = (float(x) for x in np.percentile(reps, [tail, 100 - tail]))
    return {"value": None if math.isnan(value) else value, "low": low, "high": high}


def intervals(values: np.ndarray, replicates: np.ndarray, confidence: float = 0.95) -> Any:
    """``interval`` of every element at once: `values` of shape S, `replicates` (B, *S) -> nested lists of shape S."""
    vals = np.asarray(values, dtype=np.float64)
    reps = np.asarray(replicates, dtype=np.float64).reshape((-1, *vals.shape))
    tail = (1.0 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN columns: NaN, as documented
        low, high = np.nanpercentile(reps, [tail, 100 - tail], axis=0) if reps.shape[0] else (vals * np.nan, vals * np.nan)

    def one(v: float, lo: float, hi: float) -> dict[str, float | None]:
        if math.isnan(v) or math.isnan(lo):
            return {"value": None if math.isnan(v) else float(v), "low": None, "high": None}
        return {"value": float(v), "low": float(lo), "high": float(hi)}

    flat = [one(v, lo, hi) for v, lo, hi in zip(vals.ravel().tolist(), np.ravel(low).tolist(), np.ravel(high).tolist(), strict=True)]
    if vals.ndim == 0:
        return flat[0]
    return np.array(flat, dtype=object).reshape(vals.shape).tolist()


class Bootstrap:
    """One set of bootstrap resamples of ``n_items`` items (reports), shared by every figure.

    Resample b draws ``n_items`` items with replacement; ``weights`` holds how
    often each item was drawn, so a figure that is a function of sums over items
    is resampled as ``weights @ features`` (one matrix product for all
    resamples). Resamples are generated in fixed blocks from ``(seed, block)``,
    so the same seed gives the same intervals whether or not the weights are
    kept in memory (they are when ``n_resamples * n_items <= max_cached``).
    """

    BLOCK = 50

    def __init__(self, n_items: int, *, n_resamples: int = 1000, seed: int = 0, max_cached: int = 32_000_000) -> None:
        if n_resamples < 1:
            raise ValueError("n_resamples must be at least 1")
        self.n_items, self.n_resamples, self.seed = int(n_items), int(n_resamples), int(seed)
        # The blocks themselves are cached, not one concatenated matrix: a float32
        # matrix product of another shape may sum in another order, and the
        # intervals must not depend on whether the weights fitted in memory.
        self._cached: list[tuple[slice, np.ndarray]] | None = None
        if self.n_items and self.n_items * self.n_resamples <= max_cached:
            self._cached = list(self._generate())

    def _generate(self) -> Iterable[tuple[slice, np.ndarray]]:
        n = self.n_items
        for block, start in enumerate(range(0, self.n_resamples, self.BLOCK)):
            rows = min(self.BLOCK, self.n_resamples - start)
            rng = np.random.default_rng([self.seed, block])
            draws = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
            weights = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float32)
            yield slice(start, start + rows), weights

    def blocks(self) -> Iterable[tuple[slice, np.ndarray]]:
        if self._cached is not None:
            yield from self._cached
        else:
            yield from self._generate()

    def sums(self, features: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Resampled column sums: shape ``(n_resamples, *features.shape[1:])``.

        `features` has one row per item, or one row per entry of `items` (indices
        into the resampled items) when given: items left out contribute nothing.
        """
        feats = np.asarray(features, dtype=np.float32)
        flat = feats.reshape(feats.shape[0], int(np.prod(feats.shape[1:], dtype=np.int64)))  # -1 fails with no rows
        out = np.zeros((self.n_resamples, flat.shape[1]), dtype=np.float64)
        if self.n_items == 0 or flat.shape[0] == 0:
            return out.reshape((self.n_resamples, *feats.shape[1:]))
        for rows, weights in self.blocks():
            w = weights if items is None else weights[:, items]
            out[rows] = w @ flat
        return out.reshape((self.n_resamples, *feats.shape[1:]))


# --------------------------------------------------------------------------- scores from confusion matrices
# Every function below takes confusion matrices of shape (..., K, K) (rows =
# reference, columns = rater) and is vectorised over the leading axes, so the
# same code scores the point estimate and all bootstrap resamples. Undefined
# results are NaN.


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)


def _div0(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Division where 0/0 is 0 (precision/recall convention of this module)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), 0.0)


def confusion_counts(reference: np.ndarray, rater: np.ndarray, n_categories: int) -> np.ndarray:
    """Per-item one-hot confusion cells: (n, *obs, K, K); 0 where either side is ``MISSING``."""
    ref, rat = np.asarray(reference, dtype=np.int64), np.asarray(rater, dtype=np.int64)
    k = n_categories
    valid = (ref >= 0) & (rat >= 0)
    cell = np.where(valid, ref * k + rat, 0)
    onehot = np.zeros((*ref.shape, k * k), dtype=np.float32)
    np.put_along_axis(onehot, cell[..., None], valid[..., None].astype(np.float32), axis=-1)
    return onehot.reshape((*ref.shape, k, k))


def percent_agreement_from_confusion(cm: np.ndarray) -> np.ndarray:
    return _div(np.trace(cm, axis1=-2, axis2=-1), cm.sum(axis=(-2, -1)))


def kappa_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Cohen's kappa (as ``cohen_kappa``; NaN when expected agreement is 1 or no items)."""
    n = cm.sum(axis=(-2, -1))
    observed = _div(np.trace(cm, axis1=-2, axis2=-1), n)
    expected = _div((cm.sum(axis=-1) * cm.sum(axis=-2)).sum(axis=-1), n * n)
    return _div(observed - expected, 1.0 - expected)


def pabak_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Prevalence- and bias-adjusted kappa: (K * p_o - 1) / (K - 1), K = number of categories."""
    k = cm.shape[-1]
    return (k * percent_agreement_from_confusion(cm) - 1.0) / (k - 1)


def gwet_ac1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Gwet's AC1 for two raters: chance agreement sum(pi_k (1 - pi_k)) / (K - 1), pi = mean marginal."""
    k = cm.shape[-1]
    n = cm.sum(axis=(-2, -1))[..., None]
    pi = _div((cm.sum(axis=-1) + cm.sum(axis=-2)) / 2.0, n)
    pe = (pi * (1.0 - pi)).sum(axis=-1) / (k - 1)
    return _div(percent_agreement_from_confusion(cm) - pe, 1.0 - pe)


def prf_from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-category precision, recall, F1, each (..., K); 0 where the denominator is 0."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    precision = _div0(tp, cm.sum(axis=-2))
    recall = _div0(tp, cm.sum(axis=-1))
    return precision, recall, _div0(2 * precision * recall, precision + recall)


def weighted_f1_from_confusion(cm: np.ndarray, scored: Sequence[int]) -> np.ndarray:
    """F1 of the `scored` categories weighted by reference support (as ``weighted_f1``); NaN without support."""
    _, _, f1 = prf_from_confusion(cm)
    support = cm.sum(axis=-1)[..., list(scored)]
    return _div((f1[..., list(scored)] * support).sum(axis=-1), support.sum(axis=-1))


def weighted_f1_per_observation(cm: np.ndarray, mapping: LabelMapping) -> np.ndarray:
    """Weighted F1 of each observation from confusion matrices (..., 14, K, K):
    ``weighted_f1_from_confusion`` over the mapping's scored categories, except No
    Finding, which scores its positive class only (CheXbert's evaluation, as `weighted_f1`)."""
    out = np.array(weighted_f1_from_confusion(cm, mapping.scored), dtype=np.float64)
    nf = OBSERVATION_NAMES.index(NO_FINDING)
    out[..., nf] = _positive_f1(cm[..., nf, :, :])
    return out


def _positive_f1(cm: np.ndarray) -> np.ndarray:
    """F1 of category 0 ("positive"); NaN without reference positives."""
    _, _, f1 = prf_from_confusion(cm)
    return np.where(cm[..., 0, :].sum(axis=-1) > 0, f1[..., 0], np.nan)


def sensitivity_specificity_from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Category 0 ("positive") against all others: sensitivity and specificity (NaN without support)."""
    sens = _div(cm[..., 0, 0], cm[..., 0, :].sum(axis=-1))
    spec = _div(cm[..., 1:, 1:].sum(axis=(-2, -1)), cm[..., 1:, :].sum(axis=(-2, -1)))
    return sens, spec


def scores_against_reference(
    reference: np.ndarray,
    rater: np.ndarray,
    *,
    mapping: LabelMapping | str = "full",
    bootstrap: Bootstrap | None = None,
    items: np.ndarray | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """A rater (labeler or reader) scored against reference (gold) labels, per observation, with intervals.

    `reference` and `rater` are (n, 14) category codes of `mapping` (see
    ``label_codes``); items where either is ``MISSING`` are left out, per
    observation. `bootstrap` resamples the items (rows are `items` of it when
    given); without it every interval is the point estimate's.

    Returns plain, JSON-ready data: ``n``; ``mean_weighted_f1`` (mean over the
    observations with support, as ``mean_weighted_f1``); and ``observations``,
    one dict per observation with ``n``, ``weighted_f1``, ``kappa``,
    ``sensitivity``, ``specificity``, ``agreement`` (fraction of identical
    categories) and ``classes`` (precision/recall/F1 of each scored category),
    each an ``interval`` dict, plus ``confusion`` (K x K counts, rows reference);
    ``overall`` pools every report x observation.
    """
    m = label_mapping_get(mapping) if isinstance(mapping, str) else mapping
    onehot = confusion_counts(reference, rater, m.n_categories)  # (n, 14, K, K)
    point = onehot.sum(axis=0, dtype=np.float64)  # (14, K, K)
    boot = bootstrap.sums(onehot, items) if bootstrap is not None else point[None]

    def both(fn: Any) -> tuple[np.ndarray, np.ndarray]:
        return fn(point), fn(boot)

    wf1, wf1_b = both(lambda c: weighted_f1_per_observation(c, m))
    kappa, kappa_b = both(kappa_from_confusion)
    agree, agree_b = both(percent_agreement_from_confusion)
    (sens, spec), (sens_b, spec_b) = sensitivity_specificity_from_confusion(point), sensitivity_specificity_from_confusion(boot)
    prf, prf_b = prf_from_confusion(point), prf_from_confusion(boot)
    mean_wf1, mean_wf1_b = float(_nanmean_rows(wf1)), _nanmean_rows(wf1_b)
    pooled, pooled_b = point.sum(axis=0), boot.sum(axis=1)

    def ci(v: Any, b: np.ndarray) -> Any:
        return intervals(v, b, confidence)

    wf1_i, kappa_i, sens_i, spec_i, agree_i = (ci(wf1, wf1_b), ci(kappa, kappa_b), ci(sens, sens_b), ci(spec, spec_b), ci(agree, agree_b))
    prec_i, rec_i, f1_i = (ci(prf[k], prf_b[k]) for k in range(3))
    observations = []
    for j, name in enumerate(OBSERVATION_NAMES):
        classes = {
            m.categories[c]: {
                "precision": prec_i[j][c],
                "recall": rec_i[j][c],
                "f1": f1_i[j][c],
                "support": int(point[j, c, :].sum()),
                "predicted": int(point[j, :, c].sum()),
            }
            for c in m.scored
        }
        observations.append(
            {
                "observation": name,
                "n": int(point[j].sum()),
                "weighted_f1": wf1_i[j],
                "kappa": kappa_i[j],
                "sensitivity": sens_i[j],
                "specificity": spec_i[j],
                "agreement": agree_i[j],
                "classes": classes,
                "confusion": point[j].astype(np.int64).tolist(),
            }
        )
    n_items = int(((np.asarray(reference) >= 0) & (np.asarray(rater) >= 0)).any(axis=1).sum()) if len(reference) else 0
    psens, pspec = sensitivity_specificity_from_confusion(pooled)
    psens_b, pspec_b = sensitivity_specificity_from_confusion(pooled_b)
    overall = {
        "n": n_items,  # reports; the pooled figures count each report x observation once
        "kappa": ci(kappa_from_confusion(pooled), kappa_from_confusion(pooled_b)),
        "agreement": ci(percent_agreement_from_confusion(pooled), percent_agreement_from_confusion(pooled_b)),
        "sensitivity": ci(psens, psens_b),
        "specificity": ci(pspec, pspec_b),
    }
    return {
        "n": n_items,
        "mean_weighted_f1": ci(mean_wf1, mean_wf1_b),
        "observations": observations,
        "overall": overall,
    }


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis skipping NaN; an all-NaN row is NaN (without numpy's warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=-1)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ObservationRow:
    observation: str
    weighted_f1: float | None
    classes: dict[str, ClassScores]  # positive, negative, uncertain
    kappa: float
    confusion: np.ndarray  # 4x4, LABEL_ORDER

    def as_dict(self) -> dict[str, Any]:
        return {
            "observation": self.observation,
            "weighted_f1": self.weighted_f1,
            "classes": {k: v.as_dict() for k, v in self.classes.items()},
            "kappa": None if math.isnan(self.kappa) else self.kappa,
            "confusion": {"order": list(LABEL_ORDER), "matrix": self.confusion.tolist()},
        }


@dataclass(frozen=True)
class EvaluationReport:
    n_reports: int
    rows: list[ObservationRow]
    mean_weighted_f1: float
    positive_only: PositiveOnlyScores
    positive_or_uncertain: PositiveOnlyScores
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN written as None)."""
        return {
            "n_reports": self.n_reports,
            "mean_weighted_f1": None if math.isnan(self.mean_weighted_f1) else self.mean_weighted_f1,
            "observations": [r.as_dict() for r in self.rows],
            "positive_only": self.positive_only.as_dict(),
            "positive_or_uncertain": self.positive_or_uncertain.as_dict(),
            **self.extra,
        }


def evaluation_report(gold: LabelSeq, pred: LabelSeq) -> EvaluationReport:
    """Every metric of this module for all 14 observations."""
    _aligned(gold, pred)
    rows = []
    for name in OBSERVATION_NAMES:
        rows.append(
            ObservationRow(
                observation=name,
                weighted_f1=weighted_f1(gold, pred, name),
                classes=per_class_prf(gold, pred, name),
                kappa=observation_kappa(gold, pred, name),
                confusion=confusion_matrix(gold, pred, name),
            )
        )
    return EvaluationReport(
        n_reports=len(gold),
        rows=rows,
        mean_weighted_f1=mean_weighted_f1(gold, pred),
        positive_only=positive_only_scores(gold, pred, False),
        positive_or_uncertain=positive_only_scores(gold, pred, True),
    )


def _fmt(x: float | None) -> str:
    return "    -" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:5.3f}"


def format_report_table(report: EvaluationReport) -> str:
    """Plain-text table: one row per observation, then the averages."""
    head = (
        f"{'Observation':<27} {'wF1':>5} {'F1+':>5} {'F1-':>5} {'F1?':>5} {'kappa':>5}"
        f" {'n+':>5} {'n-':>5} {'n?':>5}"
    )
    lines = [head, "-" * len(head)]
    for row in report.rows:
        c = row.classes
        lines.append(
            f"{row.observation:<27} {_fmt(row.weighted_f1)} {_fmt(c['positive'].f1)} {_fmt(c['negative'].f1)}"
            f" {_fmt(c['uncertain'].f1)} {_fmt(row.kappa)} {c['positive'].support:>5} {c['negative'].support:>5}"
            f" {c['uncertain'].support:>5}"
        )
    lines.append("-" * len(head))
    lines.append(f"{'mean weighted F1':<27} {_fmt(report.mean_weighted_f1)}   (n = {report.n_reports} reports)")
    return "\n".join(lines)


def format_positive_only_table(*scores: PositiveOnlyScores, titles: Sequence[str] = ()) -> str:
    """Side-by-side P/R/F1 tables of one or more positive-only score sets."""
    titles = list(titles) or [("pos|unc" if s.count_uncertain_as_positive else "positive") for s in scores]
    head = f"{'Observation':<27} {'n':>5}" + "".join(f" | {t:^19}" for t in titles)
    sub = f"{'':<27} {'':>5}" + "".join(f" | {'P':>5} {'R':>5} {'F1':>5}" for _ in titles)
    lines = [head, sub, "-" * len(sub)]
    names = list(scores[0].per_observation) if scores else []
    for name in names:
        cells = "".join(
            f" | {_fmt(s.per_observation[name].precision)} {_fmt(s.per_observation[name].recall)}"
            f" {_fmt(s.per_observation[name].f1)}"
            for s in scores
        )
        lines.append(f"{name:<27} {scores[0].per_observation[name].support:>5}{cells}")
    lines.append("-" * len(sub))
    cells = "".join(f" | {_fmt(s.micro.precision)} {_fmt(s.micro.recall)} {_fmt(s.micro.f1)}" for s in scores)
    lines.append(f"{'micro average':<27} {scores[0].micro.support if scores else 0:>5}{cells}")
    return "\n".join(lines)
