"""Statistics at 200k reports / 10k gold, new code vs old (#19): the page and
the API as admin and as a reader, after a restart, steady, and first after a
change; and, new code, how long the background refresh takes.

    .venv/bin/python bench/bench_statistics.py [--old-root /tmp/h6_old] [--base h6_bench_base] [--reports 200000]
        [--gold 10000] [--rounds 1] [--cycles 4] [--requests 10]

PostgreSQL (127.0.0.1). The same seeded database as bench/bench_lists.py
(bench/_seed.py), cloned per side; each side in its own child process importing
its own tree, alternating which goes first per round. In-process Django test
client (no network); admin "boss" (every reader named), reader "reader00" (her
own figures, 20 unreleased reads left out: a per-user view). Page figures use
the page's 1000 bootstrap resamples.

- `*_after_restart`: the caches cleared (what a restart with a local or a wiped
  cache gives), then the first request of each endpoint;
- `*_steady`: data unchanged, `--requests` requests each;
- `*_first_after_change`: a gold label added (ORM save, as a service would),
  then the first request. The old code served figures up to 2 minutes stale and
  recomputed on the request after that; its cached entries are aged past those
  2 minutes so the request shows what a viewer waits then. `--cycles` changes;
  even cycles ask the API first, odd ones the page.
- new code only: `refresh_cold_s` (first computation of the standard views and
  the reader's view), `refresh_after_change_s` (each cycle: what the background
  task spends), `refresh_nothing_new_ms`.

Client-process CPU per request is recorded; PostgreSQL's CPU is not in it.
Prints and saves bench/results/statistics.json.
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

ENDPOINTS = {"api": "/api/statistics/", "page": "/statistics/"}


def _change(n: int) -> None:
    """One more gold report (a report nobody read), saved like a service would (history, signals)."""
    from labeling.models import GoldLabel, Report
    from labeling.observations import OBSERVATION_NAMES

    report = Report.objects.filter(gold_labels__isnull=True, annotations__isnull=True).order_by("-id")[n]
    labels = {name: "positive" if name == "Edema" else "blank" for name in OBSERVATION_NAMES}
    GoldLabel.objects.create(report=report, labels=labels, method="imported", is_current=True)


def _age_old_entries(users: list[Any]) -> None:
    """Old code: make its cached "latest" figures older than its 2-minute staleness window."""
    from quality import statistics as st

    cache = st._cache()
    for user in users:
        basis = st.statistics_read_basis_for(user=user) or "settled"
        query = st.StatisticsQuery(reads=basis, hidden_report_ids=st.statistics_hidden_report_ids_for(user=user))
        key = st._cache_key(query, "latest")
        entry = cache.get(key)
        if entry is not None:
            cache.set(key, {**entry, "computed_ts": 0}, None)


def _clear_caches() -> None:
    from django.core.cache import caches

    caches["statistics"].clear()
    caches["default"].clear()


def _measure(side: str, cycles: int, n: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = {"admin": get_user_model().objects.get(username="boss"), "reader": get_user_model().objects.get(username="reader00")}
    clients = {}
    for who, user in users.items():
        clients[who] = Client()
        clients[who].force_login(user)
    out: dict[str, Any] = {}
    samples: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}

    def hit(who: str, what: str, label: str) -> None:
        c0, t0 = time.process_time(), time.perf_counter()
        res = clients[who].get(ENDPOINTS[what])
        ms = 1000 * (time.perf_counter() - t0)
        assert res.status_code == 200, (side, who, what, res.status_code, res.content[:200])
        key = f"{what}_{who}_{label}"
        samples.setdefault(key, []).append(ms)
        cpu[key] = cpu.get(key, 0.0) + time.process_time() - c0

    refresh: dict[str, list[float]] = {"refresh_after_change_s": []}
    if side == "new":
        from quality.services import statistics_refresh, statistics_refresh_recent, statistics_stored_for_user

        for user in users.values():
            statistics_stored_for_user(user=user)  # the views these users ask for
        t0 = time.perf_counter()
        statistics_refresh()
        statistics_refresh_recent()
        out["refresh_cold_s"] = round(time.perf_counter() - t0, 2)
    for _ in range(2):  # after a restart
        _clear_caches()
        for who in users:
            for what in ENDPOINTS:
                hit(who, what, "after_restart")
    for _ in range(n):
        for who in users:
            for what in ENDPOINTS:
                hit(who, what, "steady")
    for cycle in range(cycles):
        _change(cycle)
        if side == "old":
            _age_old_entries(list(users.values()))
        order = ("api", "page") if cycle % 2 == 0 else ("page", "api")
        for who in users:
            hit(who, order[0], "first_after_change")
            hit(who, order[1], "second_after_change")
        if side == "new":
            t0 = time.perf_counter()
            statistics_refresh()
            statistics_refresh_recent()
            refresh["refresh_after_change_s"].append(round(time.perf_counter() - t0, 2))
    if side == "new":
        t0 = time.perf_counter()
        statistics_refresh()
        statistics_refresh_recent()
        out["refresh_nothing_new_ms"] = round(1000 * (time.perf_counter() - t0), 1)
        out["refresh_after_change_s"] = refresh["refresh_after_change_s"]
    for key, ms in samples.items():
        out[key] = _sides.summary(ms, cpu[key])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-root", default="/tmp/h6_old")
    parser.add_argument("--base", default="h6_bench_base")
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--gold", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--side", choices=["old", "new"])
    parser.add_argument("--root")
    parser.add_argument("--database-url")
    parser.add_argument("--step", choices=["prepare", "measure"])
    args = parser.parse_args()

    if args.side:  # child
        _sides.side_setup(args.root, args.database_url, f"/tmp/h6_var/bench_statistics_{args.side}")
        if args.step == "prepare":
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            result: dict[str, Any] = {}
        else:
            result = _measure(args.side, args.cycles, args.requests)
        import quality

        result["code"] = str(Path(quality.__file__).parent.parent)
        print(json.dumps(result))
        return

    load_before = os.getloadavg()
    started = time.perf_counter()
    seed = _sides.ensure_base(base=args.base, old_root=args.old_root, reports=args.reports, gold=args.gold)
    roots = {"old": args.old_root, "new": str(_sides.NEW_ROOT)}
    dbs = {side: f"{args.base}_stats_{side}" for side in roots}
    rounds = []
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        got = {}
        for side in order:
            _sides.clone(base=args.base, name=dbs[side])  # each round from the same data
            _sides.run_side(Path(__file__), side=side, root=roots[side], db=dbs[side], step="prepare")
            got[side] = _sides.run_side(Path(__file__), side=side, root=roots[side], db=dbs[side], step="measure",
                                        extra=["--cycles", str(args.cycles), "--requests", str(args.requests)], timeout=1800)
            print(f"round {r + 1} {side}", json.dumps(got[side]), flush=True)
        rounds.append({"order": list(order), "old": got["old"], "new": got["new"], "new_over_old": _sides.ratios(got["new"], got["old"])})
    result = {
        "benchmark": "statistics page and API at 200k reports / 10k gold (#19): never computed on a request",
        "command": "python bench/bench_statistics.py " + " ".join(sys.argv[1:]),
        "reports": args.reports, "gold": args.gold, "seed": seed,
        "environment": {**_sides.environment(), "loadavg_before": [round(x, 2) for x in load_before]},
        "rounds": rounds, "wall_s": round(time.perf_counter() - started, 1),
    }
    _sides.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (_sides.RESULTS_DIR / "statistics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"new_over_old": [r["new_over_old"] for r in rounds], "loadavg": result["environment"]["loadavg"]}, indent=2))


if __name__ == "__main__":
    main()
