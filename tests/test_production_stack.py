"""README "Production" on one machine: the processes started from the command lines of
deploy/systemd/*.service (gunicorn, a `default` worker, a `gpu` worker, beat) with the
environment of deploy/chexgold.env.example pointed at PostgreSQL and Redis, then
import -> read -> adjudicate -> train a tiny model -> export over the REST API, as
nginx would send it (X-Forwarded-Proto: https), then step 6: the backup unit's command
line, a restore into a fresh PostgreSQL database served by a second web process, and
the gold export, audit log and active model compared byte for byte. Health, metrics
and JSON logs are checked on the way."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.backups.test_backup_restore import _facts_of
from tests.conftest import _database_url_for_workers, _redis_available, require_service
from tests.factories import labels
from tests.ml_worker.test_ml_support import make_examples, write_tiny_encoder
from tests.waiting import wait_until

pytestmark = [pytest.mark.pg, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY = REPO_ROOT / "deploy"
METRICS_TOKEN = secrets.token_urlsafe(16)
PASSWORD = "a-long-test-password-42"
NORMAL = labels(no_finding="positive")
EDEMA = labels(edema="positive")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """deploy/chexgold.env.example with this machine's services and writable directories."""
    env: dict[str, str] = {}
    for line in (DEPLOY / "chexgold.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env.update({
        "DATABASE_URL": _database_url_for_workers(),
        "CELERY_BROKER_URL": redis_url, "CELERY_RESULT_BACKEND": redis_url,
        "CHEXGOLD_CACHE_URL": redis_url, "CHEXGOLD_STATISTICS_CACHE_URL": redis_url,
        "CHEXGOLD_VAR_DIR": str(tmp_path / "var"), "CHEXGOLD_MODEL_DIR": str(tmp_path / "models"),
        "CHEXGOLD_UPLOAD_DIR": str(tmp_path / "uploads"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://127.0.0.1", "CHEXGOLD_METRICS_TOKEN": METRICS_TOKEN,
        # A tiny encoder and a sequential queue keep the run short and predictable.
        "CHEXGOLD_BASE_ENCODER": str(write_tiny_encoder(tmp_path / "encoder")), "CHEXGOLD_QUEUE_ORDER": "sequential",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
    })
    (tmp_path / "models").mkdir()
    return env


def unit_command(unit: str, port: int, tmp_path: Path, *, backup_dir: Path | None = None) -> list[str]:
    """ExecStart of a unit, for this checkout: its virtualenv, a free port, one process each
    (and, for the backup unit, `backup_dir` for /var/backups/chexgold)."""
    (line,) = [x for x in (DEPLOY / "systemd" / unit).read_text().splitlines() if x.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
    argv[0] = str(Path(sys.executable).parent / Path(argv[0]).name)  # /opt/chexgold/.venv/bin/X -> this venv's X
    replace = {"--workers": "2", "-c": "1", "--bind": f"127.0.0.1:{port}", "--forwarded-allow-ips": "127.0.0.1"}
    argv = [replace.get(argv[i - 1], a) if i else a for i, a in enumerate(argv)]
    if backup_dir is not None:
        argv = [str(backup_dir) if a == "/var/backups/chexgold" else a for a in argv]
    if " beat" in line:
        argv += ["--schedule", str(tmp_path / "celerybeat-schedule")]
    return argv


class Stack:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env, self.processes = tmp_path, env, {}  # type: ignore[var-annotated]
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, unit: str) -> None:
        log = open(self.tmp_path / f"{unit}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[unit] = (subprocess.Popen(unit_command(unit, self.port, self.tmp_path), cwd=REPO_ROOT, env=self.env,
                                                 stdout=log, stderr=subprocess.STDOUT), log)

    def log(self, unit: str) -> str:
        return (self.tmp_path / f"{unit}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {u}\n{self.log(u)[-2500:]}" for u in self.processes)

    def stop(self) -> None:
        for process, _log in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

    def session(self, username: str | None = None) -> requests.Session:
        s = requests.Session()
        s.headers["X-Forwarded-Proto"] = "https"  # what deploy/nginx/chexgold.conf sets
        if username:
            res = s.post(f"{self.base}/api/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30)
            assert res.status_code == 200, res.text
            s.headers["Authorization"] = f"Token {res.json()['token']}"
        return s


@pytest.fixture
def stack(transactional_db, tmp_path: Path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    redis_url = os.environ.get("CHEXGOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    ok, why = _redis_available(redis_url)
    require_service(ok, why)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    s = Stack(tmp_path, production_env(tmp_path, redis_url))
    try:
        yield s
    finally:
        s.stop()
        redis.Redis.from_url(redis_url).flushdb()


def test_the_documented_production_stack_imports_reads_adjudicates_trains_and_exports(stack: Stack) -> None:
    # README "Production" step 3 (migrate is done: pytest-django made this database).
    stack.manage("migrate", "--noinput")
    stack.manage("createcachetable")
    stack.manage("collectstatic", "--noinput")
    for name, role in [("admin", "admin"), ("reader1", "reader"), ("reader2", "reader"), ("adj", "adjudicator")]:
        stack.manage("create_user", name, "--role", role, "--password", PASSWORD)
    # Step 4: the units.
    for unit in ["chexgold-web.service", "chexgold-worker-default.service", "chexgold-worker-gpu.service",
                 "chexgold-beat.service"]:
        stack.start(unit)
    probe = stack.session()
    assert wait_until(lambda: _status(probe, f"{stack.base}/healthz") == 200, timeout=90.0), stack.logs()
    assert probe.get(f"{stack.base}/healthz", headers={"X-Forwarded-Proto": "http"}, allow_redirects=False,
                     timeout=10).status_code == 200  # probes are exempt from the HTTPS redirect
    assert wait_until(lambda: _status(probe, f"{stack.base}/health/") == 200, timeout=90.0), (
        probe.get(f"{stack.base}/health/", timeout=30).text + stack.logs())

    admin, reader1, reader2, adj = (stack.session(n) for n in ("admin", "reader1", "reader2", "adj"))
    # Import: 20 reports through the default worker (rules pre-label them).
    upload = io.StringIO()
    writer = csv.writer(upload)
    writer.writerow(["id", "Reports"])
    writer.writerows([f"R{i}", text] for i, (text, _) in enumerate(make_examples(20, seed=7)))
    res = admin.post(f"{stack.base}/api/imports/", files={"file": ("reports.csv", upload.getvalue(), "text/csv")}, timeout=60)
    assert res.status_code == 202, res.text
    task = res.json()["task"]
    assert wait_until(lambda: admin.get(f"{stack.base}/api/tasks/{task}/", timeout=30).json()["done"], timeout=90.0), stack.logs()
    assert admin.get(f"{stack.base}/api/tasks/{task}/", timeout=30).json()["state"] == "succeeded"

    # Reads: two readers agree on two reports (gold by agreement) and disagree on a third.
    for reader, values in [(reader1, [NORMAL, NORMAL, NORMAL]), (reader2, [NORMAL, NORMAL, EDEMA])]:
        for labels_ in values:
            _read_and_submit(stack, reader, labels_)
    queue = adj.get(f"{stack.base}/api/adjudication/", timeout=30).json()
    items = queue["results"] if isinstance(queue, dict) else queue
    assert len(items) == 1, queue
    report_id = items[0]["report_id"] if "report_id" in items[0] else items[0]["id"]
    resolved = adj.post(f"{stack.base}/api/adjudication/{report_id}/", json={"labels": EDEMA, "version": 0}, timeout=30)
    assert resolved.status_code == 200, resolved.text

    # Metrics over the trusted proxy, with the token.
    metrics = probe.get(f"{stack.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert metrics.status_code == 200, metrics.text
    assert "chexgold_gold_labels 3.0" in metrics.text
    assert "chexgold_reports_awaiting_adjudication 0.0" in metrics.text
    assert 'chexgold_celery_queue_length{queue="default"}' in metrics.text and "chexgold_broker_up 1.0" in metrics.text

    # Train a tiny model on the gpu worker.
    run = admin.post(f"{stack.base}/api/training-runs/", json={
        "stage": "silver", "base": "encoder",
        "overrides": {"epochs": 1, "learning_rate": 3e-3, "batch_size": 8, "max_length": 64},
    }, timeout=30)
    assert run.status_code == 201, run.text
    run_url = f"{stack.base}/api/training-runs/{run.json()['id']}/"
    assert wait_until(lambda: admin.get(run_url, timeout=30).json()["status"] in ("succeeded", "failed", "cancelled"),
                      timeout=180.0, interval=1.0), stack.logs()
    assert admin.get(run_url, timeout=30).json()["status"] == "succeeded", stack.logs()
    name = admin.get(run_url, timeout=30).json()["produced_version"]
    listed = admin.get(f"{stack.base}/api/model-versions/", timeout=30).json()
    (version,) = [v["id"] for v in (listed["results"] if isinstance(listed, dict) else listed) if v["name"] == name]
    promoted = admin.post(f"{stack.base}/api/model-versions/{version}/promote/", timeout=30)
    assert promoted.status_code == 200 and promoted.json()["is_active"], promoted.text

    # Export the gold set.
    export = admin.get(f"{stack.base}/api/gold/export/?format=csv", timeout=60)
    assert export.status_code == 200, export.text
    exported = list(csv.DictReader(io.StringIO(export.text)))
    assert len(exported) == 3

    # Step 6: the backup unit's command line, then a restore into a fresh database, served by
    # a second web process; the gold export, the audit log and the active model must match.
    audit_before = admin.get(f"{stack.base}/api/audit/export/", timeout=60)
    assert audit_before.status_code == 200
    facts_before = _facts_of(stack.env)
    backup_dir = stack.tmp_path / "backups"  # /var/backups/chexgold, made as step 6 says
    backup_dir.mkdir(mode=0o700)
    done = subprocess.run(unit_command("chexgold-backup.service", stack.port, stack.tmp_path, backup_dir=backup_dir),
                          cwd=REPO_ROOT, env=stack.env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (archive,) = backup_dir.glob("chexgold-*.tar.gz")
    with fresh_database() as restored_url:
        restored_env = {**stack.env, "DATABASE_URL": restored_url}
        restored_dir = stack.tmp_path / "restored"
        restored_dir.mkdir()
        for name in ("CHEXGOLD_VAR_DIR", "CHEXGOLD_MODEL_DIR", "CHEXGOLD_UPLOAD_DIR"):
            restored_env[name] = str(restored_dir / name.lower())
        restored = Stack(restored_dir, restored_env)
        try:
            restored.manage("restore", str(archive))
            facts_after = _facts_of(restored_env)  # before any request adds to the access audit
            assert facts_after["active_model"]["stored_in_this_install"]  # type: ignore[index]
            assert facts_after == facts_before  # gold exports, audit tables, the active model's files (sha256)
            restored.start("chexgold-web.service")
            assert wait_until(lambda: _status(probe, f"{restored.base}/healthz") == 200, timeout=90.0), restored.logs()
            # The admin's API token came back with the users.
            again = admin.get(f"{restored.base}/api/gold/export/?format=csv", timeout=60)
            assert again.status_code == 200 and again.content == export.content
            audit_again = admin.get(f"{restored.base}/api/audit/export/", timeout=60)
            assert audit_again.status_code == 200 and audit_again.content == audit_before.content
        finally:
            restored.stop()

    # Structured logs: one JSON object per request (web) and per task (workers).
    web_lines = [json.loads(x) for x in stack.log("chexgold-web.service").splitlines() if x.startswith("{")]
    assert any(line.get("logger") == "chexgold.requests" and line.get("path") == "/api/imports/" for line in web_lines)
    task_lines = [json.loads(x) for x in stack.log("chexgold-worker-gpu.service").splitlines() if x.startswith("{")]
    assert any(line.get("task") == "ml_worker.tasks.training_run_execute_task" for line in task_lines), stack.logs()
    assert "FINDINGS" not in stack.log("chexgold-web.service")  # no report text in the logs


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database beside the stack's (README step 6's CREATE DATABASE), dropped after."""
    import psycopg

    url = urlsplit(_database_url_for_workers())
    name = f"chexgold_restored_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(url._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _status(session: requests.Session, url: str) -> int:
    try:
        return session.get(url, timeout=10).status_code
    except requests.RequestException:
        return 0


def _read_and_submit(stack: Stack, reader: requests.Session, values: dict[str, str]) -> None:
    nxt = reader.post(f"{stack.base}/api/reports/next/", timeout=30)
    assert nxt.status_code == 200, nxt.text
    created = reader.post(f"{stack.base}/api/annotations/", json={"report": nxt.json()["id"], "labels": values}, timeout=30)
    assert created.status_code == 201, created.text
    sub = reader.post(f"{stack.base}/api/annotations/{created.json()['id']}/submit/",
                      json={"labels": values, "override_warnings": True}, headers={"If-Match": created.headers["ETag"]},
                      timeout=30)
    assert sub.status_code == 200, sub.text
