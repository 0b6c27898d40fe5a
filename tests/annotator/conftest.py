from __future__ import annotations

import pytest

from labeling.observations import OBSERVATION_NAMES
from tests.factories import labels


@pytest.fixture
def readers(make_user) -> list:  # type: ignore[no-untyped-def]
    return [make_user(f"reader{i}", "reader") for i in range(1, 4)]


@pytest.fixture
def adjudicator(make_user):  # type: ignore[no-untyped-def]
    return make_user("adj", "adjudicator")


NORMAL = labels(no_finding="positive")
ALL_NAMES = OBSERVATION_NAMES
