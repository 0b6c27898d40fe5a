"""Bench helper: old code vs new code on copies of one seeded PostgreSQL database.

The parent process (run from the new tree) seeds a base database once
(`bench/_seed.py`, migrated with the old code), clones it per side
(``CREATE DATABASE ... TEMPLATE``), then runs each measurement in a child
process importing that side's tree (`side_setup`), alternating which side goes
first each round because the machine is shared. Children print one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NEW_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = NEW_ROOT / "bench" / "results"
PG = "postgres://postgres@127.0.0.1:5432"


def _psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(["psql", f"{PG}/{db}", "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


def ensure_base(*, base: str, old_root: str, reports: int, gold: int) -> dict[str, Any]:
    if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{base}'"):
        _psql(f'CREATE DATABASE "{base}"')
    out = subprocess.run([sys.executable, str(NEW_ROOT / "bench" / "_seed.py"), "--root", old_root, "--database-url", f"{PG}/{base}",
                          "--reports", str(reports), "--gold", str(gold)], check=True, capture_output=True, text=True,
                         cwd=old_root)  # cwd: nothing of the other tree on the path
    return json.loads(out.stdout.strip().splitlines()[-1])


def clone(*, base: str, name: str) -> float:
    """A fresh copy of `base` named `name` (dropped first); seconds it took."""
    started = time.perf_counter()
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
    return round(time.perf_counter() - started, 1)


def run_side(script: Path, *, side: str, root: str, db: str, step: str, extra: list[str] | None = None,
             timeout: int = 900) -> dict[str, Any]:
    """Run `script --side <side> --root <root> --database-url <db> --step <step>` and parse its last stdout line."""
    cmd = [sys.executable, str(script), "--side", side, "--root", root, "--database-url", f"{PG}/{db}", "--step", step, *(extra or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root)  # cwd: nothing of the other tree on the path
    if proc.returncode != 0:
        raise RuntimeError(f"{side} {step} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def side_setup(root: str, database_url: str, var_dir: str) -> None:
    """In a child: import Django from `root` against `database_url` (call before any project import)."""
    sys.path.insert(0, root)
    os.environ["DATABASE_URL"] = database_url
    os.environ["CHEXGOLD_VAR_DIR"] = var_dir
    # Queued tasks (the new code's statistics refresh) go to this engineer's Redis db; no worker runs.
    os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/6"
    os.environ["CELERY_RESULT_BACKEND"] = "redis://127.0.0.1:6379/6"
    os.environ["CHEXGOLD_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")
    Path(var_dir).mkdir(parents=True, exist_ok=True)
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(ms: list[float], cpu_s: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
                           "max_ms": round(max(ms), 1)}
    if cpu_s is not None:
        out["cpu_ms_per_request"] = round(1000 * cpu_s / len(ms), 1)
    return out


def timed(fn: Any, n: int, *, budget_s: float = 60.0, between: Any = None) -> dict[str, Any]:
    """Call `fn` up to `n` times (fewer if `budget_s` runs out), `between()` untimed before each call."""
    ms: list[float] = []
    cpu = 0.0
    deadline = time.perf_counter() + budget_s
    for _ in range(n):
        if between is not None:
            between()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ms.append(1000 * (time.perf_counter() - t0))
        cpu += time.process_time() - c0
        if time.perf_counter() > deadline:
            break
    return summary(ms, cpu)


def ratios(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """new/old p50 and p95 for every measurement both sides have."""
    out = {}
    for key in new:
        if key in old and isinstance(new[key], dict) and "p95_ms" in new[key] and "p95_ms" in old[key]:
            out[key] = {"p50": round(new[key]["p50_ms"] / max(old[key]["p50_ms"], 0.01), 4),
                        "p95": round(new[key]["p95_ms"] / max(old[key]["p95_ms"], 0.01), 4)}
    return out


def environment() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()], "python": sys.version.split()[0],
            "database": "PostgreSQL 127.0.0.1 (shared 2-core machine)"}
