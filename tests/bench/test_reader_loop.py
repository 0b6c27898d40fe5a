"""bench/load/reader_loop.py on the embedded default, briefly: it seeds, starts and
stops the stack, and its JSON says no request failed and nothing was lost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reader_loop_smoke_on_the_embedded_default(tmp_path: Path) -> None:
    out = tmp_path / "load_readers_smoke.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    run = subprocess.run(
        [sys.executable, "bench/load/reader_loop.py", "--embedded", "--duration", "5", "--readers", "3", "--reports", "200",
         "--port", str(_free_port()), "--var-dir", str(tmp_path / "var"), "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["error_samples"]
    assert result["verification"]["nothing_lost"] is True
    assert result["requests"] > 0 and "POST /api/reports/next/" in result["endpoints"]
    assert result["cpu"]["generator_cpu_seconds"] >= 0 and result["cpu"]["load_average_before"]
