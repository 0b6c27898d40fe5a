"""Demo users, data and processes: one definition used by `seed_demo`, `run_demo`,
README and bench/load/reader_loop.py."""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings

from accounts.roles import Role

DEMO_REPORTS = Path(__file__).resolve().parent.parent / "demo" / "reports.csv"

# (username, password, roles). Local demo only; README lists them.
DEMO_USERS: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("admin", "chexgold-admin", (Role.ADMIN,)),
    ("reader1", "chexgold-reader1", (Role.READER,)),
    ("reader2", "chexgold-reader2", (Role.READER,)),
    ("reader3", "chexgold-reader3", (Role.READER,)),
    ("adjudicator", "chexgold-adjudicator", (Role.ADJUDICATOR,)),
)


def demo_commands(*, address: str, web_workers: int, run_dir: Path) -> dict[str, list[str]]:
    """The demo's processes by name (web, worker, beat), as `run_demo` starts them;
    bench/load/reader_loop.py --embedded starts the same."""
    python = sys.executable
    return {
        "worker": [python, "-m", "celery", "-A", "chexgold", "worker", "-Q", "default,gpu", "--concurrency", "2",
                   "--loglevel", "INFO", "--pidfile", str(run_dir / "worker.pid"), "-n", "demo@%h"],
        "beat": [python, "-m", "celery", "-A", "chexgold", "beat", "--loglevel", "INFO",
                 "--pidfile", str(run_dir / "beat.pid"), "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")],
        # gunicorn, not runserver (a development server: one process, not hardened).
        # Sync workers answer one request at a time each, so N requests run side by
        # side; static files come from whitenoise's middleware, which finds them
        # without a collectstatic step (settings.WHITENOISE_USE_FINDERS).
        "web": [python, "-m", "gunicorn", "chexgold.wsgi:application", "--bind", address,
                "--workers", str(web_workers), "--worker-class", "sync", "--timeout", "120", "--graceful-timeout", "10"],
    }
