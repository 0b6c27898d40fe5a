"""labeling.rules.pool: labelling over worker processes gives exactly the
output of one process, in input order. Plain pytest, no Django."""

from __future__ import annotations

import pytest

from labeling.rules import label_reports
from labeling.rules.pool import MIN_PARALLEL, RulePool, label_json_parallel, label_reports_parallel
from tests.labeling.test_rules_golden import DEMO_CSV, odd_texts, read_reports


@pytest.fixture(scope="module")
def texts() -> list[str]:
    demo = [t for _, t in read_reports(DEMO_CSV)]
    odd = [t for _, t in odd_texts()]
    # Long enough for several chunks on two workers; demo reports in reverse
    # order the second time, so chunks differ from the first pass.
    texts = demo + odd + demo[::-1] + odd + demo
    assert len(texts) >= 2 * MIN_PARALLEL
    return texts


@pytest.mark.parametrize("section", ["auto", "full"])
def test_two_workers_give_the_output_of_one_process(texts: list[str], section: str) -> None:
    expected = label_reports(texts, section)
    with RulePool(2) as pool:
        assert pool.label(texts, section) == expected
        assert pool.label_json(texts, section) == [(r.labels, r.evidence_as_json()) for r in expected]
        assert pool._executor is not None  # the workers did the work


def test_one_worker_and_small_batches_stay_in_this_process(texts: list[str]) -> None:
    with RulePool(1) as pool:
        assert pool.label(texts) == label_reports(texts)
        assert pool._executor is None
    with RulePool(4) as pool:
        small = texts[: MIN_PARALLEL - 1]
        assert pool.label_json(small) == [(r.labels, r.evidence_as_json()) for r in label_reports(small)]
        assert pool._executor is None


def test_one_shot_helpers(texts: list[str]) -> None:
    expected = label_reports(texts[:50], "impression")
    assert label_reports_parallel(texts[:50], "impression", workers=2) == expected
    assert label_json_parallel(texts[:50], "impression", workers=2) == [
        (r.labels, r.evidence_as_json()) for r in expected
    ]
    with pytest.raises(ValueError):
        label_json_parallel(texts[:5], "everything", workers=2)
