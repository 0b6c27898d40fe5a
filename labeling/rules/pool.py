"""Rule labelling across processes: ``RulePool(workers).label(texts, section)``.

The labeler is pure Python, so threads do not help (the GIL); this spreads
chunks of reports over worker processes and returns exactly what
``label_reports`` returns, in input order (tests/labeling/test_rules_pool.py).

- ``workers <= 1`` labels in this process (no pool is started): the default,
  because one process already labels several thousand reports/s and, on a
  machine whose cores are busy with the web server and PostgreSQL, extra
  processes only add start-up and pickling (docs/PERFORMANCE.md has the
  measurement).
- Workers are *spawned*, not forked: the caller may be a Django process with
  open database connections, threads and locks that a fork would copy. Each
  worker imports only ``labeling.rules`` and compiles the lexicon once. As
  with any spawned process, a script that starts a pool must keep its work
  under ``if __name__ == "__main__":`` (manage.py, celery and pytest do).
- Small batches (fewer than ``MIN_PARALLEL`` reports) are labelled in this
  process: a round trip to the workers would cost more than it saves.

Django-free (stdlib only), like the rest of ``labeling.rules``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from labeling.observations import OBSERVATIONS, LabelDict, LabelValue
from labeling.rules.labeler import Evidence, ReportLabels, label_reports
from labeling.sections import SectionMode

CHUNK = 250  # reports per task: large enough that pickling overhead is small
MIN_PARALLEL = 2 * CHUNK

T = TypeVar("T")
EvidenceJson = dict[str, list[dict[str, Any]]]


def _warm() -> None:
    from labeling.rules.lexicon import get_lexicon

    get_lexicon()


# Results cross the process boundary as plain tuples: unpickling dataclasses
# and enum members cost more than labelling the report (measured: ~70 us a
# report against ~130 us to label it), plain tuples of str/int a fraction.
PackedEvidence = tuple[int, int, str, int, int, str, str, "int | None", "int | None"]
Packed = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[PackedEvidence, ...]], ...]]
_VALUE_BY_NAME = {v.value: v for v in LabelValue}


def _pack(result: ReportLabels) -> Packed:
    return (
        result.section,
        tuple(result.values[o].value for o in OBSERVATIONS),
        tuple(
            (name, tuple((e.start, e.end, e.phrase, e.sentence_start, e.sentence_end, e.value.value, e.cue,
                          e.cue_start, e.cue_end) for e in items))
            for name, items in result.evidence.items()
        ),
    )


def _unpack(packed: Packed) -> ReportLabels:
    section, values, evidence = packed
    value_of = _VALUE_BY_NAME
    return ReportLabels(
        {o: value_of[v] for o, v in zip(OBSERVATIONS, values, strict=True)},
        {
            name: [Evidence(a, b, p, ss, se, value_of[v], c, cs, ce)
                   for a, b, p, ss, se, v, c, cs, ce in items]
            for name, items in evidence
        },
        section,
    )


def _label_chunk(texts: list[str], section: str) -> list[Packed]:
    return [_pack(r) for r in label_reports(texts, section)]


def _as_json(results: list[ReportLabels]) -> list[tuple[LabelDict, EvidenceJson]]:
    return [(r.labels, r.evidence_as_json()) for r in results]


def _label_chunk_json(texts: list[str], section: str) -> list[tuple[LabelDict, EvidenceJson]]:
    return _as_json(label_reports(texts, section))


class RulePool:
    """A reusable set of rule-labelling processes (started on first use).

    Use as a context manager, or call ``close()``: worker processes are
    stopped when the pool closes.
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._executor: ProcessPoolExecutor | None = None

    def label(self, texts: Sequence[str], section: str = "auto") -> list[ReportLabels]:
        """Labels of `texts` in order, as ``label_reports(texts, section)``."""
        parts = self._map(_label_chunk, texts, section)
        if parts is None:
            return label_reports(texts, section)
        return [_unpack(p) for part in parts for p in part]

    def label_json(self, texts: Sequence[str], section: str = "auto") -> list[tuple[LabelDict, EvidenceJson]]:
        """``(result.labels, result.evidence_as_json())`` of each text, in order:
        what the database and the CSV output store. The workers build the JSON
        too, so the calling process only unpickles plain dicts."""
        parts = self._map(_label_chunk_json, texts, section)
        if parts is None:
            return _as_json(label_reports(texts, section))
        return [p for part in parts for p in part]

    def _map(self, fn: Callable[[list[str], str], list[T]], texts: Sequence[str], section: str) -> Iterator[list[T]] | None:
        """Chunk results from the workers, or None: label here."""
        section = SectionMode(section).value
        if self.workers <= 1 or len(texts) < MIN_PARALLEL:
            return None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
            )
        texts = list(texts)
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        return self._executor.map(fn, chunks, [section] * len(chunks))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> RulePool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def label_reports_parallel(texts: Sequence[str], section: str = "auto", workers: int = 1) -> list[ReportLabels]:
    """``label_reports`` over `workers` processes (a pool for this call only)."""
    with RulePool(workers) as pool:
        return pool.label(texts, section)


def label_json_parallel(
    texts: Sequence[str], section: str = "auto", workers: int = 1
) -> list[tuple[LabelDict, EvidenceJson]]:
    """``RulePool.label_json`` with a pool for this call only."""
    with RulePool(workers) as pool:
        return pool.label_json(texts, section)
