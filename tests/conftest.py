"""Shared fixtures: service checks, real Celery worker processes, users.

Where PostgreSQL, Redis or Chromium is missing, the tests that need it skip with
the reason; with CHEXGOLD_REQUIRE_SERVICES=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.object_store"]  # the s3_server fixture (a moto S3 server)

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("CHEXGOLD_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip (or, under CHEXGOLD_REQUIRE_SERVICES=1, fail) when a service is missing."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _using_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://", "pgsql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The PostgreSQL+Redis pass (DATABASE_URL=postgres://...) runs the tests marked
    # `pg`, `worker` or `both_backends`; the embedded pass runs all but `pg`.
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        if _using_postgres():
            keep = bool(marks & {"pg", "worker", "both_backends"})
        else:
            keep = "pg" not in marks
        (selected if keep else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session", autouse=True)
def _postgres_reachable() -> None:
    """In the PostgreSQL pass, check the server answers before pytest-django creates the test database."""
    if not _using_postgres():
        return
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or None,
            dbname=db["NAME"], connect_timeout=3,
        ).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        require_service(False, f"PostgreSQL at {db['HOST']}:{db['PORT']} not reachable ({exc})")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    # PBKDF2 costs ~0.3 s per user on a 2-core machine; tests are not about hashing.
    # (Skipped when pytest-django is off, e.g. `-p no:django` for the pure cores.)
    if not request.config.pluginmanager.hasplugin("django"):
        return
    request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _shared_rows_fresh(request: pytest.FixtureRequest) -> Iterator[None]:
    """The settings rows and the active model are cached across requests
    (api.request_memo.shared_memoized); a test's rolled-back rows must not reach the next test."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from api.request_memo import SHARED_ROW_KEYS, shared_row_forget

    def clear() -> None:
        shared_row_forget(*SHARED_ROW_KEYS)

    clear()
    yield
    clear()


@pytest.fixture
def settings_row(db):  # type: ignore[no-untyped-def]
    """Runtime settings for review tests: k = 2, sequential queue, auto-gold on."""
    from labeling.models import RuntimeSettings
    from labeling.selectors import runtime_settings_get

    row = runtime_settings_get()
    row.reads_per_report = 2
    row.queue_order = RuntimeSettings.QueueOrder.SEQUENTIAL
    row.auto_gold = True
    row.save()
    return row


# --- users -----------------------------------------------------------------
@pytest.fixture
def make_user(db) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    from accounts.roles import Role
    from accounts.services import user_create_or_update

    def make(username: str, *roles: str, password: str = "correct-horse-42") -> object:
        user, _ = user_create_or_update(username=username, password=password, roles=[Role(r) for r in roles])
        return user

    return make


# --- reports ---------------------------------------------------------------
@pytest.fixture
def make_reports(db) -> Callable[..., list]:  # type: ignore[no-untyped-def]
    """n reports, each with a normal ("No Finding" positive) rule prediction."""
    from tests.factories import ReportFactory, RulePredictionFactory, labels

    def make(n: int, **kwargs: object) -> list:
        reports = ReportFactory.create_batch(n, **kwargs)
        for r in reports:
            RulePredictionFactory(report=r, labels=labels(no_finding="positive"))
        return reports

    return make


# --- real Celery workers ---------------------------------------------------
def _redis_available(url: str) -> tuple[bool, str]:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True, ""
    except Exception as exc:  # noqa: BLE001
        return False, f"Redis at {url} not reachable ({exc})"


def _database_url_for_workers() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = db["NAME"]
        assert name and ":memory:" not in str(name) and "mode=memory" not in str(name), (
            "worker tests need a file database that another process can open"
        )
        return f"sqlite:///{name}"
    user = db["USER"] or ""
    auth = f"{user}@" if user else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], pidfile: Path, log: Path) -> None:
        self.process, self.pidfile, self.log = process, pidfile, log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def celery_services(tmp_path: Path, transactional_db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Broker/result URLs for this test and the matching env for worker processes.

    Embedded pass: fresh SQLite-file broker and result store under tmp_path.
    PostgreSQL pass: Redis (database 15) for both.
    """
    from chexgold.celery import app

    if _using_postgres():
        url = os.environ.get("CHEXGOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        ok, why = _redis_available(url)
        require_service(ok, why)
        import redis

        redis.Redis.from_url(url).flushdb()
        broker, backend = url, url
    else:
        broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
        backend = f"db+sqlite:///{tmp_path / 'results.sqlite3'}"
    _celery_point_at(app, broker=broker, backend=backend)
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _database_url_for_workers(),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": backend,
            "DJANGO_SETTINGS_MODULE": "chexgold.settings",
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
        }
    )
    return env


def _celery_point_at(app, *, broker: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    """Point this process's Celery client at a test broker and result store."""
    from kombu import pools

    # Close and forget every pooled connection: kombu keeps pools in a global
    # registry keyed by URL, so a closed pool must not be found again there.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.update(broker_url=broker, result_backend=backend)
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def start_worker(tmp_path: Path, celery_services: dict[str, str]) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real `celery worker` processes; each is stopped by PID afterwards."""
    started: list[WorkerProcess] = []

    def start(queues: str = "default,gpu", extra_env: dict[str, str] | None = None) -> WorkerProcess:
        name = f"test-{queues.replace(',', '-')}-{uuid.uuid4().hex[:6]}"
        pidfile = tmp_path / f"{name}.pid"
        log = tmp_path / f"{name}.log"
        env = dict(celery_services)
        env.update(extra_env or {})
        cmd = [
            sys.executable, "-m", "celery", "-A", "chexgold", "worker", "-Q", queues, "-n", f"{name}@%h",
            "--pool", "solo", "--loglevel", "INFO", "--pidfile", str(pidfile), "--without-heartbeat",
            "--without-gossip", "--without-mingle",
        ]
        with open(log, "wb") as fh:
            process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        worker = WorkerProcess(process, pidfile, log)
        started.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}:\n{worker.output()[-4000:]}")
            if "ready." in worker.output():
                return worker
            time.sleep(0.2)
        pytest.fail(f"worker did not start within 60 s:\n{worker.output()[-4000:]}")

    yield start
    for worker in started:
        worker.stop()


# --- browser ---------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def screenshot_dir() -> Path:
    """Where browser tests save screenshots: docs/screenshots (shown in README)
    with CHEXGOLD_UPDATE_SCREENSHOTS=1, else test-artifacts/ so that a test run
    leaves the working tree clean."""
    if os.environ.get("CHEXGOLD_UPDATE_SCREENSHOTS") == "1":
        target = REPO_ROOT / "docs" / "screenshots"
    else:
        target = REPO_ROOT / "test-artifacts" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    require_service(os.path.exists(CHROMIUM), f"Chromium not installed at {CHROMIUM}")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # live_server + sync Playwright in one thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
