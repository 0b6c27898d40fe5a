"""Kill the Celery worker (SIGKILL, by PID) during a large import and during
re-labelling, restart it, and check the end state is complete and consistent:
every row imported once, every report rule-labelled once. Resumption comes from
`labeling.services.job_resume` (worker start + beat). Saves
bench/results/load_worker_kill.json.

    .venv/bin/python bench/load/worker_kill_test.py [--reports 60000]

PostgreSQL (database chexgold_kill) and Redis (database 13) at 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.waiting import wait_until  # noqa: E402  (after the repository root is importable)

DB_URL = "postgres://postgres@127.0.0.1:5432/chexgold_kill"
REDIS_URL = "redis://127.0.0.1:6379/13"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": DB_URL, "CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL,
                "DJANGO_SETTINGS_MODULE": "chexgold.settings", "CHEXGOLD_STALLED_IMPORT_MINUTES": "0",
                "CHEXGOLD_LOG_LEVEL": "INFO", "HF_HUB_OFFLINE": "1"})
    return env


def start_worker(tag: str) -> tuple[subprocess.Popen, Path]:
    pidfile = REPO / "var" / f"kill-worker-{tag}.pid"
    log = open(REPO / "var" / f"kill-worker-{tag}.log", "wb")
    proc = subprocess.Popen([str(REPO / ".venv/bin/celery"), "-A", "chexgold", "worker", "-Q", "default", "--pool", "solo",
                             "--pidfile", str(pidfile), "-n", f"kill-{tag}@%h", "--without-gossip", "--without-mingle"],
                            cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    return proc, pidfile


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # the worker this script started, by PID
    proc.wait()



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=60000)
    args = parser.parse_args()
    for sql in ("drop database if exists chexgold_kill", "create database chexgold_kill"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", sql], check=True, capture_output=True)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    os.environ.update(_env())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from labeling.models import ImportBatch, MachinePrediction, Report
    from labeling.rules import RULES_VERSION
    from labeling.tasks import report_import_task

    path = REPO / "var" / "kill-reports.csv"
    with open(path, "w") as fh:
        fh.write("id,Reports\n")
        for n in range(args.reports):
            fh.write(f'K{n:07d},"FINDINGS: Small left pleural effusion, case {n}. IMPRESSION: No pneumothorax."\n')
    batch = ImportBatch.objects.create(filename="kill-reports.csv", stored_path=str(path))
    report_import_task.delay(batch.id)
    events = []
    t0 = time.monotonic()
    worker, _ = start_worker("1")
    # Kill during the import's write phase.
    wait_until(lambda: ImportBatch.objects.get(id=batch.id).status == "importing", 300)
    time.sleep(1.0)
    kill(worker)
    events.append({"killed": "during import", "status": ImportBatch.objects.get(id=batch.id).status,
                   "reports_committed": Report.objects.count(), "at_s": round(time.monotonic() - t0, 1)})
    worker, _ = start_worker("2")
    assert wait_until(lambda: ImportBatch.objects.get(id=batch.id).status in ("succeeded", "failed"), 600)
    # Kill during rule labelling (queued by the import for this many reports).
    wait_until(lambda: MachinePrediction.objects.filter(source="rules").count() > args.reports // 5, 600)
    kill(worker)
    events.append({"killed": "during rule labelling", "labelled": MachinePrediction.objects.filter(source="rules").count(),
                   "at_s": round(time.monotonic() - t0, 1)})
    worker, _ = start_worker("3")
    done = wait_until(lambda: MachinePrediction.objects.filter(source="rules", source_version=RULES_VERSION).count() >= args.reports, 900)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    from django.db.models import Count

    batch.refresh_from_db()
    result = {
        "what": f"SIGKILL the only default worker during an import of {args.reports} reports and again during rule labelling; restart; resume",
        "seconds": round(time.monotonic() - t0, 1),
        "events": events,
        "batch_status": batch.status,
        "reports": Report.objects.count(),
        "rule_predictions": MachinePrediction.objects.filter(source="rules").count(),
        "duplicate_predictions": MachinePrediction.objects.values("report_id", "source", "source_version").annotate(n=Count("id")).filter(n__gt=1).count(),
        "labelling_finished": done,
    }
    result["ok"] = (batch.status == "succeeded" and result["reports"] == args.reports and result["rule_predictions"] == args.reports
                    and result["duplicate_predictions"] == 0)
    print(json.dumps(result, indent=2))
    (REPO / "bench" / "results" / "load_worker_kill.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
