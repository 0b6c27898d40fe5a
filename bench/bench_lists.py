"""Lists at 200k reports, new code vs old (#19): the reports list's rules-vs-model
disagreement filter, the "random" queue order, the audit history's deep pages.

    .venv/bin/python bench/bench_lists.py [--old-root /tmp/h6_old] [--base h6_bench_base] [--reports 200000]
        [--gold 10000] [--rounds 2] [--requests 20] [--budget 30]

PostgreSQL (127.0.0.1, user postgres). Seeds `--base` once with bench/_seed.py
(reused when present), clones it into `<base>_old` and `<base>_new`, migrates
each with its own code and computes its queue priorities (timed: the new
columns are kept by that refresh), then, in a child process per side and round
(alternating which side goes first; the machine is shared), measures with
Django's test client and an API token, in-process (no network):

- `reports_disagreement_p1` / `_p20`: GET /api/reports/?disagreement=true (page 1, page 20) as admin;
- `next_random`: POST /api/reports/next/ with the queue order "random" as a reader
  (their reservation deleted, untimed, before each call, so each call assigns);
- `audit_p1`: GET /api/audit/ first page; `audit_10k`: page 200 of 50 (10,000 deep);
  `audit_50k`: 50,000 entries deep: old ?page=1000, new ?cursor= (the cursor of
  that place, taken untimed; page numbers stop at 10,000).

Each: p50/p95/max over `--requests` calls (fewer once a side has spent `--budget` s on it) and
client-process CPU ms per request (Django + driver; PostgreSQL's own CPU is not
in it). Prints and saves bench/results/lists.json with new/old ratios per round
and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _sides  # noqa: E402


def _prepare() -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotator.services import report_priorities_refresh

    c0, t0 = time.process_time(), time.perf_counter()
    rows = report_priorities_refresh()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    from django.db import connection

    with connection.cursor() as cursor:  # what autovacuum does after the bulk rewrite on a live install
        cursor.execute("VACUUM ANALYZE annotator_reportpriority")
    c1, t1 = time.process_time(), time.perf_counter()
    report_priorities_refresh()  # nothing changed: what every check costs
    return {"priority_refresh_all_s": round(seconds, 2), "priority_refresh_cpu_s": round(cpu, 2), "rows": rows,
            "priority_refresh_nothing_new_ms": round(1000 * (time.perf_counter() - t1), 1),
            "priority_refresh_nothing_new_cpu_ms": round(1000 * (time.process_time() - c1), 1)}


def _measure(side: str, n: int, budget: float) -> dict[str, Any]:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from labeling.models import Reservation, RuntimeSettings

    def client(username: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username=username).key}")

    admin, reader = client("boss"), client("reader01")
    out: dict[str, Any] = {}

    def get(c: Client, url: str) -> Any:
        def call() -> None:
            res = c.get(url)
            assert res.status_code == 200, (url, res.status_code, res.content[:300])
        return call

    admin.get("/api/reports/?disagreement=true")  # warm: connection, first-use imports, a due priority check
    out["reports_disagreement_p1"] = _sides.timed(get(admin, "/api/reports/?disagreement=true"), n, budget_s=budget)
    out["reports_disagreement_p20"] = _sides.timed(get(admin, "/api/reports/?disagreement=true&page=20"), n, budget_s=budget)
    body = admin.get("/api/reports/?disagreement=true").json()
    out["reports_disagreement_count"] = body["count"]

    RuntimeSettings.objects.update(queue_order=RuntimeSettings.QueueOrder.RANDOM)
    reader_id = Token.objects.get(user__username="reader01").user_id

    def release() -> None:
        Reservation.objects.filter(reader_id=reader_id).delete()

    def next_random() -> None:
        res = reader.post("/api/reports/next/")
        assert res.status_code == 200, res.content[:300]

    release()
    next_random()  # warm
    out["next_random"] = _sides.timed(next_random, n, between=release, budget_s=budget)
    release()

    admin.get("/api/audit/")
    out["audit_p1"] = _sides.timed(get(admin, "/api/audit/?page_size=50"), n, budget_s=budget)
    out["audit_10k"] = _sides.timed(get(admin, "/api/audit/?page=200&page_size=50"), n, budget_s=budget)
    if side == "old":
        out["audit_50k"] = _sides.timed(get(admin, "/api/audit/?page=1000&page_size=50"), n, budget_s=budget)
    else:
        from labeling.audit import AUDIT_KINDS, AuditCursor, AuditLog

        entry = AuditLog(AUDIT_KINDS)[49_999:50_000][0]
        cursor = AuditCursor.of(entry).encode()
        first = admin.get(f"/api/audit/?page_size=50&cursor={cursor}").json()
        assert first["results"] and first["count"] is None
        out["audit_50k"] = _sides.timed(get(admin, f"/api/audit/?page_size=50&cursor={cursor}"), n, budget_s=budget)
        out["audit_page_beyond_10k_status"] = admin.get("/api/audit/?page=1000&page_size=50").status_code
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-root", default="/tmp/h6_old")
    parser.add_argument("--base", default="h6_bench_base")
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--gold", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per measurement before it stops early (old code)")
    parser.add_argument("--side", choices=["old", "new"])
    parser.add_argument("--root")
    parser.add_argument("--database-url")
    parser.add_argument("--step", choices=["prepare", "measure"])
    args = parser.parse_args()

    if args.side:  # child
        _sides.side_setup(args.root, args.database_url, f"/tmp/h6_var/bench_lists_{args.side}")
        result = _prepare() if args.step == "prepare" else _measure(args.side, args.requests, args.budget)
        import annotator

        result["code"] = str(Path(annotator.__file__).parent.parent)  # which tree was measured
        print(json.dumps(result))
        return

    load_before = os.getloadavg()
    started = time.perf_counter()
    seed = _sides.ensure_base(base=args.base, old_root=args.old_root, reports=args.reports, gold=args.gold)
    roots = {"old": args.old_root, "new": str(_sides.NEW_ROOT)}
    dbs = {side: f"{args.base}_lists_{side}" for side in roots}
    prepared = {}
    for side in ("old", "new"):
        _sides.clone(base=args.base, name=dbs[side])
        prepared[side] = _sides.run_side(Path(__file__), side=side, root=roots[side], db=dbs[side], step="prepare")
        print(side, "prepared", prepared[side], flush=True)
    rounds = []
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        got = {}
        for side in order:
            got[side] = _sides.run_side(Path(__file__), side=side, root=roots[side], db=dbs[side], step="measure",
                                        extra=["--requests", str(args.requests), "--budget", str(args.budget)])
            print(f"round {r + 1} {side}", json.dumps(got[side]), flush=True)
        rounds.append({"order": list(order), "old": got["old"], "new": got["new"], "new_over_old": _sides.ratios(got["new"], got["old"])})
    result = {
        "benchmark": "lists at 200k reports (#19): disagreement filter, random queue order, audit deep pages",
        "command": "python bench/bench_lists.py " + " ".join(sys.argv[1:]),
        "reports": args.reports, "gold": args.gold, "seed": seed, "prepare": prepared,
        "environment": {**_sides.environment(), "loadavg_before": [round(x, 2) for x in load_before]},
        "rounds": rounds, "wall_s": round(time.perf_counter() - started, 1),
    }
    _sides.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (_sides.RESULTS_DIR / "lists.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"new_over_old": [r["new_over_old"] for r in rounds], "loadavg": result["environment"]["loadavg"]}, indent=2))


if __name__ == "__main__":
    main()
