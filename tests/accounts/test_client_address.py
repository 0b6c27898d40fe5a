"""The one client-address rule (`accounts.client_address`) and its users: the
access audit, sign-in lockout (axes' client IP) and DRF."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import RequestFactory

from accounts.client_address import client_address
from privacy.services.access_audit import report_access_record
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db


def test_forwarded_for_is_used_only_behind_trusted_proxies(settings) -> None:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.5"  # a client can forge X-Forwarded-For
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.9"  # what our proxy saw, not the forged left entry
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"
    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 5
    assert client_address(request) == "6.6.6.6"  # fewer hops than proxies: the leftmost there is
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="not-an-ip")) is None


def test_access_audit_and_lockout_use_the_one_rule(settings, make_user) -> None:  # type: ignore[no-untyped-def]
    from axes.helpers import get_client_ip_address

    settings.CHEXGOLD_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    row = report_access_record(user=make_user("reader1", "reader"), report_ids=[1], channel="x", request=request)
    assert row.ip == "203.0.113.9"
    assert get_client_ip_address(request) == "203.0.113.9"  # axes: AXES_CLIENT_IP_CALLABLE


DRF_CHECK = """
import django
django.setup()
from django.conf import settings
from django.test import RequestFactory
from rest_framework.throttling import BaseThrottle
from accounts.client_address import client_address
request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7, 203.0.113.9")
print(settings.REST_FRAMEWORK["NUM_PROXIES"], BaseThrottle().get_ident(request), client_address(request))
"""


def test_drf_counts_proxies_from_the_same_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, CHEXGOLD_TRUSTED_PROXY_COUNT="2", CHEXGOLD_VAR_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE="chexgold.settings")
    done = subprocess.run([sys.executable, "-c", DRF_CHECK], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "198.51.100.7", "198.51.100.7"]
