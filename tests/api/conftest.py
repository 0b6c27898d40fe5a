from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import labels

NORMAL = labels(no_finding="positive")


@pytest.fixture(autouse=True)
def _clear_throttles() -> None:
    cache.clear()


@pytest.fixture
def users(make_user, settings_row) -> dict:  # type: ignore[no-untyped-def]
    return {
        "reader1": make_user("reader1", "reader"),
        "reader2": make_user("reader2", "reader"),
        "reader3": make_user("reader3", "reader"),
        "adjudicator": make_user("adj", "adjudicator"),
        "admin": make_user("boss", "admin"),
    }


@pytest.fixture
def client_for(users) -> Callable[[str | None], APIClient]:  # type: ignore[no-untyped-def]
    def make(who: str | None) -> APIClient:
        client = APIClient()
        if who is not None:
            client.force_authenticate(users[who])
        return client

    return make


def read_and_submit(client: APIClient, values: dict[str, str] | None = None) -> dict:
    """A reader takes the next report, saves a draft and submits it. Returns the submit body."""
    nxt = client.post("/api/reports/next/")
    assert nxt.status_code == 200, nxt.content
    report_id = nxt.json()["id"]
    created = client.post("/api/annotations/", {"report": report_id, "labels": values or NORMAL}, format="json")
    assert created.status_code == 201, created.content
    ann = created.json()
    sub = client.post(f"/api/annotations/{ann['id']}/submit/", {"labels": values or NORMAL, "override_warnings": True},
                      format="json", HTTP_IF_MATCH=created["ETag"])
    assert sub.status_code == 200, sub.content
    return sub.json()
