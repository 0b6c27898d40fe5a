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

Command line: ``python -m labeling.metrics GOLD.csv PRED.csv [--json]`` reads two
CheXpert-format label files (matched by id) and prints the evaluation table.
"""

from __future__ import annotations

import math
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
    """CheXbert's weighted F1: F1 of positive, negative, uncertain weighted by gold support.

    Returns None when the gold labels have no positive, negative or uncertain
    value for this observation (all blank, or no reports): there is nothing to
    score, and 0 would wrongly penalise the model in an average.
    Equals scikit-learn's ``f1_score(labels=[pos, neg, unc], average="weighted",
    zero_division=0)``.
    """
    scores = per_class_prf(gold, pred, observation)
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
