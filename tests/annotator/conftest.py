from __future__ import annotations

from collections.abc import Callable

import pytest

from labeling.observations import OBSERVATION_NAMES
from tests.factories import ReportFactory, RulePredictionFactory, labels


@pytest.fixture
def readers(make_user) -> list:  # type: ignore[no-untyped-def]
    return [make_user(f"reader{i}", "reader") for i in range(1, 4)]


@pytest.fixture
def adjudicator(make_user):  # type: ignore[no-untyped-def]
    return make_user("adj", "adjudicator")


@pytest.fixture
def make_reports(db) -> Callable[..., list]:  # type: ignore[no-untyped-def]
    def make(n: int, **kwargs: object) -> list:
        reports = ReportFactory.create_batch(n, **kwargs)
        for r in reports:
            RulePredictionFactory(report=r, labels=labels(no_finding="positive"))
        return reports

    return make


NORMAL = labels(no_finding="positive")
ALL_NAMES = OBSERVATION_NAMES
