"""The README's run command: web (gunicorn, static files by whitenoise), worker and beat
come up with demo data; Ctrl-C stops them."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_demo_serves_login_seeds_data_and_runs_a_worker(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    env.update({"CHEXGOLD_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "chexgold.settings"})
    log = tmp_path / "demo.log"
    with open(log, "wb") as fh:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "run_demo", "--address", f"127.0.0.1:{port}", "--web-workers", "2"],
            cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 120
        page = ""
        while time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()[-3000:]
            try:
                page = opener.open(f"{base}/accounts/login/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert "Log in to chexgold" in page, log.read_text()[-3000:]
        # gunicorn answers, not Django's development server, and serves the page's CSS itself (whitenoise).
        login = urllib.request.urlopen(f"{base}/accounts/login/", timeout=5)
        assert login.headers["Server"].startswith("gunicorn"), login.headers["Server"]
        stylesheet = re.search(r'<link[^>]+href="(/static/[^"]+\.css)"', page).group(1)  # type: ignore[union-attr]
        css = urllib.request.urlopen(base + stylesheet, timeout=5)
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css") and css.read()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode({"username": "reader1", "password": "chexgold-reader1", "csrfmiddlewaretoken": token})
        request = urllib.request.Request(f"{base}/accounts/login/", data=form.encode(), headers={"Referer": f"{base}/accounts/login/"})
        home = opener.open(request, timeout=10)
        # Readers land on their queue (annotator.views.home).
        assert home.geturl() == f"{base}/queue/" and "My queue" in home.read().decode()
        # The worker completes the tasks seed_demo queued.
        while time.monotonic() < deadline and "demo_first_model_task" not in _succeeded(log):
            time.sleep(0.5)
        assert "demo_first_model_task" in _succeeded(log), log.read_text()[-3000:]
        assert "demo reports: 387 new report(s)" in log.read_text() or "demo reports:" in log.read_text()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=40)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    output = log.read_text()
    assert demo.returncode == 0, output[-3000:]
    for name in ("web", "worker", "beat"):
        assert f"stopped {name}" in output


def _succeeded(log: Path) -> str:
    return "\n".join(line for line in log.read_text(errors="replace").splitlines() if "succeeded" in line)
