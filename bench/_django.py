"""Bench helper: set up Django against a throwaway database before importing models."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def setup_django(database_url: str | None = None) -> Path:
    """Point settings at a fresh var dir (SQLite by default), migrate, return the dir."""
    sys.path.insert(0, str(REPO_ROOT))
    var_dir = Path(tempfile.mkdtemp(prefix="chexgold-bench-"))
    os.environ["CHEXGOLD_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    if database_url:
        call_command("flush", interactive=False, verbosity=0) if _has_tables() else None
    call_command("migrate", verbosity=0)
    return var_dir


def _has_tables() -> bool:
    from django.db import connection

    return "labeling_report" in connection.introspection.table_names()


def machine_info() -> dict[str, object]:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def latency_summary(ms: list[float], digits: int = 2) -> dict[str, float]:
    """n, p50, p95, max and mean of latencies in milliseconds."""
    import statistics

    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), digits), "p95_ms": round(percentile(ms, 95), digits),
            "max_ms": round(max(ms), digits), "mean_ms": round(statistics.mean(ms), digits)}
