"""Error pages render even when the request never reached the auth middleware."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_a_disallowed_host_gets_a_plain_400_not_a_crash(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["chexgold.example.org"]
    settings.DEBUG = False
    response = client.get("/accounts/login/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
