"""A reader's hot path over the API, new code vs old, in-process: latency and queries per request.

    .venv/bin/python bench/bench_hot_path.py --old-root /work/main \\
        --database-url postgres://postgres@127.0.0.1:5432/chexgold_bench_hot_path [--reports 20000] [--reads 300]

Each side runs in its own process against its own fresh database (the old one
is the database name with `_old`), seeded alike: `--reports` reports with a rule
prediction each, 10 readers with API tokens, k = 2 reads per report (so every
second submit makes gold by agreement), sequential queue. Then the readers take
turns reading, `--reads` reads in all:
- `four`: POST reports/next/, GET reports/<id>/, POST annotations/ (draft),
  POST annotations/<id>/submit/ — the only way before #19;
- `two` (new code only): POST reports/next/?include=report, POST annotations/
  with "submit": true.
Per endpoint: p50/p95/mean server time (Django's test client, no network) and
queries per request (a connection execute wrapper counts every statement,
savepoints included); per read: the sum. `--profile` adds the top functions
by own time (cProfile) of the new side's four-request loop. The old side is the
same file run with `--side old`, importing the code under `--old-root`.
`--rounds` pairs (default 2) alternate which side runs first (the machine is
shared); the summary is the mean of the rounds' new/old ratios.
Prints and saves bench/results/hot_path.json.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
NORMAL = {"No Finding": "positive"}


def _seed(n_reports: int, n_readers: int) -> list[str]:
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from annotator.selectors import review_settings_get
    from labeling.models import MachinePrediction, Report, RuntimeSettings
    from labeling.observations import OBSERVATION_NAMES
    from labeling.report_files import text_sha256
    from labeling.selectors import runtime_settings_get

    with open(HERE / "demo" / "reports.csv", newline="", encoding="utf-8") as fh:
        texts = [row["Reports"] for row in csv.DictReader(fh)]
    rule_labels = {name: ("positive" if name == "No Finding" else "blank") for name in OBSERVATION_NAMES}
    for start in range(0, n_reports, 5000):
        rows = []
        for i in range(start, min(n_reports, start + 5000)):
            text = f"{texts[i % len(texts)]}\n(Study {i}.)"
            rows.append(Report(external_id=f"H{i:07d}", patient_id=f"P{i // 3:06d}", text=text, text_sha256=text_sha256(text)))
        with transaction.atomic():
            created = Report.objects.bulk_create(rows)
            MachinePrediction.objects.bulk_create(
                MachinePrediction(report_id=r.id, source=MachinePrediction.Source.RULES, source_version="bench",
                                  labels=rule_labels, evidence={}) for r in created
            )
    row = runtime_settings_get()
    row.reads_per_report = 2
    row.queue_order = RuntimeSettings.QueueOrder.SEQUENTIAL
    row.auto_gold = True
    row.save()
    review_settings_get()
    keys = []
    for n in range(n_readers):
        user, _ = user_create_or_update(username=f"hot{n}", password="x", roles=[Role.READER], demo_user=True)
        keys.append(Token.objects.create(user=user).key)
    return keys


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.n += 1
        return execute(sql, params, many, context)


def _proc_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc); 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(keys: list[str], reads: int, flow: str, profile: bool) -> dict[str, object]:
    from django.db import connection
    from rest_framework.test import APIClient

    from bench._django import latency_summary

    clients = []
    for key in keys:
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION="Token " + key)
        clients.append(c)
    ms: dict[str, list[float]] = defaultdict(list)
    queries: dict[str, list[int]] = defaultdict(list)
    per_read: list[float] = []
    profiler = cProfile.Profile() if profile else None

    def call(name: str, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        counter = _Counter()
        with connection.execute_wrapper(counter):
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            res = method(*args, **kwargs)
            elapsed = (time.perf_counter() - t0) * 1000
            if profiler:
                profiler.disable()
        assert res.status_code < 300, (name, res.status_code, res.content[:300])
        ms[name].append(elapsed)
        queries[name].append(counter.n)
        return res, elapsed

    # CPU, not only wall-clock: the machine is shared, and CPU seconds per read
    # (this process: Django; the PostgreSQL backend serving its connection) move
    # far less with other jobs' load than latencies do.
    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
    cpu_web0, cpu_db0 = time.process_time(), _proc_cpu_s(backend_pid)
    done = 0
    while done < reads:
        c = clients[done % len(clients)]
        if flow == "four":
            nxt, t1 = call("next", c.post, "/api/reports/next/")
            rid = nxt.json()["id"]
            _, t2 = call("report", c.get, f"/api/reports/{rid}/")
            draft, t3 = call("draft", c.post, "/api/annotations/", {"report": rid, "labels": NORMAL}, format="json")
            body = draft.json()
            _, t4 = call("submit", c.post, f"/api/annotations/{body['id']}/submit/",
                         {"labels": _full(), "version": body["version"], "override_warnings": True}, format="json")
            per_read.append(t1 + t2 + t3 + t4)
        else:
            nxt, t1 = call("next_include_report", c.post, "/api/reports/next/?include=report")
            rid = nxt.json()["id"]
            _, t2 = call("create_and_submit", c.post, "/api/annotations/",
                         {"report": rid, "labels": _full(), "submit": True, "override_warnings": True}, format="json")
            per_read.append(t1 + t2)
        done += 1
    out: dict[str, object] = {
        "endpoints": {
            name: {**latency_summary(values), "queries_p50": sorted(queries[name])[len(queries[name]) // 2],
                   "queries_max": max(queries[name])}
            for name, values in ms.items()
        },
        "per_read": latency_summary(per_read),
        "queries_per_read_mean": round(sum(sum(v) for v in queries.values()) / reads, 2),
        "cpu_ms_per_read_web": round((time.process_time() - cpu_web0) * 1000 / reads, 2),
    }
    if backend_pid is not None:
        out["cpu_ms_per_read_db"] = round((_proc_cpu_s(backend_pid) - cpu_db0) * 1000 / reads, 2)
    if profiler:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(15)
        out["profile_top_tottime"] = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()][-16:]
    return out


def _full() -> dict[str, str]:
    from labeling.observations import OBSERVATION_NAMES

    return {name: ("positive" if name == "No Finding" else "blank") for name in OBSERVATION_NAMES}


def _database(url: str) -> None:
    """Create the database of `url` if missing (PostgreSQL)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def side(args: argparse.Namespace) -> dict[str, object]:
    """One side (this process): seed, warm up, run the flows; returns the figures."""
    sys.path.insert(0, str(Path(args.code_root).resolve()))
    if args.database_url:
        _database(args.database_url)
    from bench._django import setup_django

    setup_django(args.database_url)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    t0 = time.perf_counter()
    keys = _seed(args.reports, args.readers)
    seeded = time.perf_counter() - t0
    _run(keys, min(20, args.reads), "four", False)  # warm-up: imports, first-use rows, plans
    result: dict[str, object] = {"seed_s": round(seeded, 1), "four": _run(keys, args.reads, "four", args.profile)}
    if args.side == "new":
        result["two"] = _run(keys, args.reads, "two", False)
    return result


def _summary(results: dict[str, object]) -> dict[str, object]:
    old_four = results["old"]["four"]  # type: ignore[index]
    new_four = results["new"]["four"]  # type: ignore[index]
    new_two = results["new"]["two"]  # type: ignore[index]
    return {
        "per_read_p50_new_four_over_old": round(new_four["per_read"]["p50_ms"] / old_four["per_read"]["p50_ms"], 3),
        "per_read_p50_new_two_over_old": round(new_two["per_read"]["p50_ms"] / old_four["per_read"]["p50_ms"], 3),
        "per_read_p95_new_four_over_old": round(new_four["per_read"]["p95_ms"] / old_four["per_read"]["p95_ms"], 3),
        "per_read_p95_new_two_over_old": round(new_two["per_read"]["p95_ms"] / old_four["per_read"]["p95_ms"], 3),
        "queries_per_read": {"old_four": old_four["queries_per_read_mean"], "new_four": new_four["queries_per_read_mean"],
                             "new_two": new_two["queries_per_read_mean"]},
        "endpoint_p50_new_over_old": {
            name: round(new_four["endpoints"][name]["p50_ms"] / old_four["endpoints"][name]["p50_ms"], 3)
            for name in old_four["endpoints"]
        },
        "cpu_per_read_new_four_over_old": _cpu_ratio(new_four, old_four),
        "cpu_per_read_new_two_over_old": _cpu_ratio(new_two, old_four),
    }


def _cpu_ratio(new: dict[str, Any], old: dict[str, Any]) -> float | None:
    """Web + database CPU per read, new over old (None where the old run did not measure it)."""
    if "cpu_ms_per_read_web" not in old:
        return None
    total = [side["cpu_ms_per_read_web"] + side.get("cpu_ms_per_read_db", 0.0) for side in (new, old)]
    return round(total[0] / total[1], 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its database is created); default SQLite")
    parser.add_argument("--old-root", default=None, help="a checkout of the code before #19 (e.g. /work/main)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first round's four-request loops")
    parser.add_argument("--rounds", type=int, default=2, help="new/old pairs, alternating which goes first")
    parser.add_argument("--side", choices=["new", "old"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--code-root", default=str(HERE), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child process: one side
        Path(args.out).write_text(json.dumps(side(args)))
        return
    load_before = os.getloadavg()
    cpu0 = os.times()
    sides = {"new": (str(HERE), args.database_url)}
    if args.old_root:
        sides["old"] = (args.old_root, f"{args.database_url}_old" if args.database_url else None)
    rounds: list[dict[str, object]] = []
    for n in range(args.rounds):
        # The machine is shared: alternate which side goes first, so a load change favours neither.
        order = list(sides) if n % 2 == 0 else list(reversed(sides))
        results: dict[str, object] = {"order": order}
        for name in order:
            root, url = sides[name]
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
                out = fh.name
            cmd = [sys.executable, __file__, "--side", name, "--code-root", root, "--out", out, "--reports", str(args.reports),
                   "--readers", str(args.readers), "--reads", str(args.reads)] + (["--database-url", url] if url else [])
            if args.profile and n == 0:
                cmd.append("--profile")
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "DJANGO_SETTINGS_MODULE": "chexgold.settings"}
            env.pop("DATABASE_URL", None)
            subprocess.run(cmd, check=True, env=env, cwd=root, stdout=subprocess.DEVNULL)
            results[name] = json.loads(Path(out).read_text())
            results[f"{name}_load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            os.unlink(out)
        if "old" in results:
            results["summary"] = _summary(results)
        rounds.append(results)
    cpu1 = os.times()
    summary: dict[str, object] = {}
    if args.old_root:
        per_round: list[Any] = [r["summary"] for r in rounds]
        summary = {
            key: round(sum(float(p[key]) for p in per_round) / len(per_round), 3)
            for key in ("per_read_p50_new_four_over_old", "per_read_p50_new_two_over_old",
                        "per_read_p95_new_four_over_old", "per_read_p95_new_two_over_old",
                        "cpu_per_read_new_four_over_old", "cpu_per_read_new_two_over_old")
            if all(p.get(key) is not None for p in per_round)
        }
        summary["endpoint_p50_new_over_old"] = {
            name: round(sum(p["endpoint_p50_new_over_old"][name] for p in per_round) / len(per_round), 3)
            for name in per_round[0]["endpoint_p50_new_over_old"]
        }
        summary["queries_per_read"] = per_round[0]["queries_per_read"]
    payload = {
        "benchmark": "reader hot path over the API (server time, test client in-process), new vs old code",
        "command": "python bench/bench_hot_path.py " + " ".join(sys.argv[1:]),
        "database": "postgresql" if args.database_url else "sqlite",
        "reports": args.reports, "readers": args.readers, "reads": args.reads,
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_s_children": round((cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system), 1),
        "machine": {"cpus": os.cpu_count()},
        "summary_mean_of_rounds": summary,
        "rounds": rounds,
    }
    text = json.dumps(payload, indent=2)
    print(text)
    out_dir = HERE / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "hot_path.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
