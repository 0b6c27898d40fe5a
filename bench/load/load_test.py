"""50 readers labelling at once for 60 s against gunicorn + PostgreSQL + Redis.

Reports requests/s, p50/p95/p99 latency per endpoint and errors, then checks
that every annotation a client saw accepted is in the database with the values
the client sent (nothing lost, no duplicates). Prints and saves JSON to
bench/results/load.json. Every process it starts is stopped by PID.

    .venv/bin/python bench/load/load_test.py [--readers 50] [--seconds 60] [--workers 3]

Needs PostgreSQL at 127.0.0.1 (database chexgold_load, created if missing) and
Redis at 127.0.0.1 (database 14). Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DB_URL = "postgres://postgres@127.0.0.1:5432/chexgold_load"
REDIS_URL = "redis://127.0.0.1:6379/14"
PORT = 8765
LABEL_CHOICES = ["positive", "negative", "uncertain", "blank"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": DB_URL, "CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "chexgold.settings", "DJANGO_DEBUG": "false", "CHEXGOLD_LOG_LEVEL": "WARNING",
        "CHEXGOLD_LOGIN_RATE": "10000/min", "CHEXGOLD_TOKEN_RATE": "10000/min", "HF_HUB_OFFLINE": "1",
    })
    return env


def setup(readers: int, reports: int) -> dict[str, str]:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", "drop database if exists chexgold_load"],
                   check=True, capture_output=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", "create database chexgold_load"],
                   check=True, capture_output=True)
    os.environ.update(_env())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from labeling.models import RuntimeSettings
    from labeling.selectors import runtime_settings_get

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order = 2, RuntimeSettings.QueueOrder.SEQUENTIAL
    row.save()
    tokens = {}
    _ = make_password
    for i in range(readers):
        user, _ = user_create_or_update(username=f"load{i:02d}", password=f"load-pass-{i:02d}-x", roles=[Role.READER])
        tokens[user.username] = Token.objects.get_or_create(user=user)[0].key
    # Reports through the real importer (rule labels inline).
    path = REPO / "var" / "load-reports.csv"
    path.parent.mkdir(exist_ok=True)
    findings = ["No acute cardiopulmonary process.", "Small left pleural effusion.", "Mild cardiomegaly.",
                "Right lower lobe consolidation concerning for pneumonia.", "No pneumothorax. ET tube in place."]
    with open(path, "w") as fh:
        fh.write("id,Reports\n")
        for n in range(reports):
            fh.write(f'L{n:06d},"FINDINGS: {random.Random(n).choice(findings)} Study {n}."\n')
    from labeling.services.prelabel import new_reports_prelabel
    from labeling.services.report_import import report_import

    result = report_import(path=path)
    new_reports_prelabel(report_ids=result.created_ids, inline=True)
    return tokens


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.accepted: dict[int, dict] = {}  # annotation id -> labels the client saw accepted
        self.accepted_by: dict[int, str] = {}

    def record(self, name: str, seconds: float, ok: bool, code: int) -> None:
        with self.lock:
            self.latency.setdefault(name, []).append(seconds)
            if not ok:
                key = f"{name} {code}"
                self.errors[key] = self.errors.get(key, 0) + 1


def reader_loop(username: str, token: str, stop: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    base = f"http://127.0.0.1:{PORT}/api"

    def call(name: str, method: str, url: str, **kw):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            r = s.request(method, base + url, timeout=60, **kw)
            code = r.status_code
        except requests.RequestException:
            r, code = None, 0
        stats.record(name, time.perf_counter() - t, r is not None and code < 400, code)
        return r

    while time.monotonic() < stop:
        r = call("POST /reports/next/", "post", "/reports/next/")
        if r is None or r.status_code != 200:
            if r is not None and r.status_code == 204:
                return
            continue
        report_id = r.json()["id"]
        labels = {"No Finding": "positive"} if rng.random() < 0.5 else {"Pleural Effusion": "positive"}
        r = call("POST /annotations/", "post", "/annotations/", json={"report": report_id, "labels": labels})
        if r is None or r.status_code != 201:
            continue
        ann = r.json()
        full = {n: "blank" for n in ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity",
                                     "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
                                     "Pleural Other", "Fracture", "Support Devices"]}
        full.update(labels)
        if rng.random() < 0.3:  # sometimes a draft save first
            r = call("PATCH /annotations/{id}/", "patch", f"/annotations/{ann['id']}/", json={"labels": labels},
                     headers={"If-Match": f'"{ann["version"]}"'})
            if r is None or r.status_code != 200:
                continue
            ann = r.json()
        r = call("POST /annotations/{id}/submit/", "post", f"/annotations/{ann['id']}/submit/",
                 json={"labels": full, "override_warnings": True}, headers={"If-Match": f'"{ann["version"]}"'})
        if r is not None and r.status_code == 200:
            with stats.lock:
                stats.accepted[ann["id"]] = full
                stats.accepted_by[ann["id"]] = username
        if rng.random() < 0.2:
            call("GET /reports/", "get", "/reports/?page_size=20")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--reports", type=int, default=4000)
    args = parser.parse_args()
    tokens = setup(args.readers, args.reports)
    pidfile = REPO / "var" / "load-gunicorn.pid"
    log = open(REPO / "var" / "load-gunicorn.log", "wb")
    gunicorn = subprocess.Popen(
        [str(REPO / ".venv/bin/gunicorn"), "chexgold.wsgi:application", "-w", str(args.workers), "-k", "gthread", "--threads", "4",
         "-b", f"127.0.0.1:{PORT}", "--pid", str(pidfile), "--timeout", "120"],
        cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        stats = Stats()
        start = time.monotonic()
        stop = start + args.seconds
        threads = [threading.Thread(target=reader_loop, args=(u, t, stop, stats, i)) for i, (u, t) in enumerate(tokens.items())]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    finally:
        gunicorn.send_signal(signal.SIGTERM)  # by PID: the process this script started
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
        log.close()

    from labeling.models import Annotation, GoldLabel

    stored = {a.id: a for a in Annotation.objects.filter(id__in=list(stats.accepted)).select_related("reader")}
    missing = [i for i in stats.accepted if i not in stored]
    wrong = [i for i, labels in stats.accepted.items() if i in stored and (stored[i].labels != labels or stored[i].status != "submitted"
                                                                            or stored[i].reader.username != stats.accepted_by[i])]
    from django.db.models import Count

    duplicates = Annotation.objects.values("report_id", "reader_id").annotate(n=Count("id")).filter(n__gt=1).count()
    over_k = Annotation.objects.filter(status="submitted").values("report_id").annotate(n=Count("id")).filter(n__gt=2).count()
    total = sum(len(v) for v in stats.latency.values())
    result: dict[str, Any] = {
        "what": f"{args.readers} readers labelling concurrently for {args.seconds} s (next, create draft, sometimes PATCH, submit, sometimes list)",
        "server": f"gunicorn {args.workers} workers x 4 threads (gthread), PostgreSQL, Redis broker, DJANGO_DEBUG=false",
        "machine": f"{os.cpu_count()} cores shared with other work; load generator on the same machine",
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "annotations_submitted": len(stats.accepted),
        "endpoints": {
            name: {"count": len(v), "p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95), "p99_ms": pct(v, 0.99),
                   "mean_ms": round(statistics.fmean(v) * 1000, 1)}
            for name, v in sorted(stats.latency.items())
        },
        "errors": stats.errors,
        "verification": {
            "accepted_annotations_missing": len(missing), "accepted_annotations_wrong": len(wrong),
            "duplicate_annotations": duplicates, "reports_over_k_reads": over_k,
            "gold_labels": GoldLabel.objects.filter(is_current=True).count(),
            "ok": not missing and not wrong and duplicates == 0 and over_k == 0,
        },
    }
    print(json.dumps(result, indent=2))
    out = REPO / "bench" / "results" / "load.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not result["verification"]["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
