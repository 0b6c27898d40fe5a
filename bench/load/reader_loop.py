"""Readers labelling through the token API against a real stack (#19 "Readers").

Each reader loops ``POST /api/reports/next/`` -> ``GET /api/reports/<id>/`` ->
save a draft (``POST /api/annotations/``) -> think (uniform 2-6 s) -> submit
(``POST /api/annotations/<id>/submit/``); ``--flow one-request`` loops
``POST /api/reports/next/?include=report`` -> think -> ``POST /api/annotations/``
with ``"submit": true``. Reports per endpoint p50/p95/p99/max, requests/s,
submits/s and errors (any non-2xx, and exceptions), then checks that every
submit the server accepted is stored exactly once with the values sent
("nothing lost"). CPU is measured over the run in cores: the server side
(web server processes, PostgreSQL backends of the run's database, Celery) and
the load generator itself; the load average before and during the run too.

    .venv/bin/python bench/load/reader_loop.py                      # the issue's recipe (below)
    .venv/bin/python bench/load/reader_loop.py --think 0            # saturation: no think time
    .venv/bin/python bench/load/reader_loop.py --flow one-request   # next?include=report, create-and-submit
    .venv/bin/python bench/load/reader_loop.py --embedded           # SQLite + file broker, gunicorn as run_demo starts it, 10 readers
    .venv/bin/python bench/load/reader_loop.py --embedded --runserver   # the old development server (baseline)

Default (the issue's recipe): gunicorn with 5 sync workers + PostgreSQL + Redis
(broker, results and the shared cache) + one Celery worker, 20,000 reports,
50 readers, 120 s, think 2-6 s. The reports are seeded once per size into a
template database (``<name>_seed``; a SQLite file under --var-dir for
--embedded) and every run starts from a fresh copy of it. Prints a summary and
saves JSON to bench/results/load_readers[_embedded][_runserver][_think0][_one-request].json
(or --out). Only 127.0.0.1 is contacted; every process it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

OBSERVATIONS = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
                "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                "Fracture", "Support Devices"]
FINDINGS = [
    "No acute cardiopulmonary process. Heart size is normal. Lungs are clear.",
    "Small left pleural effusion with adjacent atelectasis. No pneumothorax.",
    "Mild cardiomegaly. Pulmonary vascular congestion suggesting mild edema.",
    "Right lower lobe consolidation concerning for pneumonia. No effusion.",
    "Endotracheal tube terminates 4 cm above the carina. Right IJ line in the SVC.",
    "Possible small right apical pneumothorax. Old healed left rib fractures.",
    "Stable 1.5 cm nodule in the left upper lobe. No new opacity.",
    "Bibasilar opacities, likely atelectasis, cannot exclude aspiration.",
]


# --- settings of a run -------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedded", action="store_true", help="SQLite + the SQLite-file broker, web/worker/beat as run_demo starts them")
    p.add_argument("--runserver", action="store_true", help="with --embedded: Django's development server instead of gunicorn")
    p.add_argument("--flow", choices=["four-request", "one-request"], default="four-request")
    p.add_argument("--think", default="2-6", help="think time in seconds: 'A-B' (uniform) or one number; 0 = saturation")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    p.add_argument("--readers", type=int, help="concurrent readers (default 50; 10 with --embedded)")
    p.add_argument("--workers", type=int, help="gunicorn sync workers (default 5; 3 with --embedded, as run_demo)")
    p.add_argument("--reports", type=int, default=20_000, help="reports seeded")
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/chexgold_readers",
                   help="PostgreSQL database of the run (dropped and re-created from <name>_seed); not used with --embedded")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="broker, results and cache (flushed); not with --embedded")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--var-dir", type=Path, default=REPO / "var" / "reader-loop", help="CHEXGOLD_VAR_DIR of the servers")
    p.add_argument("--out", type=Path, help="JSON result (default bench/results/load_readers<flags>.json)")
    p.add_argument("--seed", type=int, default=19, help="random seed of the readers' choices")
    p.add_argument("--import-at", type=float, help="upload an import of --import-reports new reports (as an admin, "
                   "POST /api/imports/) this many seconds into the run: what readers see while a worker imports")
    p.add_argument("--import-reports", type=int, default=20_000)
    p.add_argument("--server-repo", type=Path, default=REPO, help="checkout the servers run from (old code: a worktree "
                   "of an earlier commit with the same migrations); seeding and checks run this checkout's code")
    p.add_argument("--busy", type=float, default=0.0, help="another process spins this fraction of one core "
                   "during the run (the issue's shared machine: 0.4); counted among other processes' CPU")
    p.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)  # the seeding child process
    args = p.parse_args(argv)
    if args.runserver and not args.embedded:
        p.error("--runserver is the embedded baseline: use it with --embedded")
    args.readers = args.readers or (10 if args.embedded else 50)
    args.workers = args.workers or (3 if args.embedded else 5)
    lo, _, hi = args.think.partition("-")
    args.think_range = (float(lo), float(hi or lo))
    if args.out is None:
        suffix = "".join([
            "_embedded" if args.embedded else "", "_runserver" if args.runserver else "",
            "_think0" if args.think_range == (0.0, 0.0) else "", "_one-request" if args.flow == "one-request" else "",
            "_import" if args.import_at is not None else "", "_old" if args.server_repo.resolve() != REPO else "",
            f"_busy{args.busy:g}" if args.busy else "",
        ])
        args.out = REPO / "bench" / "results" / f"load_readers{suffix}.json"
    return args


def server_env(args: argparse.Namespace, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CHEXGOLD_CACHE_URL", "CHEXGOLD_VAR_DIR")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "chexgold.settings", "DJANGO_DEBUG": "false", "CHEXGOLD_LOG_LEVEL": "WARNING",
        "CHEXGOLD_VAR_DIR": str(args.var_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
    })
    if database_url:
        env["DATABASE_URL"] = database_url
    if not args.embedded:
        env.update({"CELERY_BROKER_URL": args.redis_url, "CELERY_RESULT_BACKEND": args.redis_url, "CHEXGOLD_CACHE_URL": args.redis_url})
    return env


# --- the seeded database ---------------------------------------------------------------
def _pg_parts(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    return name, urllib.parse.urlunparse(parsed._replace(path="/postgres"))


def _pg(admin_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _seeded_reports(args: argparse.Namespace, seed_url: str | None, seed_file: Path) -> int:
    """Reports in the template, -1 when it is missing or was left half-seeded."""
    try:
        if seed_url is None:
            if not seed_file.exists():
                return -1
            with sqlite3.connect(seed_file) as conn:
                done = conn.execute("select count(*) from labeling_report").fetchone()[0]
                marked = conn.execute("select count(*) from auth_user where username = 'reader-loop-seeded'").fetchone()[0]
        else:
            name, admin = _pg_parts(seed_url)
            if not _pg(admin, f"select 1 from pg_database where datname = '{name}'"):
                return -1
            import psycopg

            with psycopg.connect(seed_url) as conn:
                done = conn.execute("select count(*) from labeling_report").fetchone()[0]  # type: ignore[index]
                marked = conn.execute("select count(*) from auth_user where username = 'reader-loop-seeded'").fetchone()[0]  # type: ignore[index]
        return int(done) if marked else -1
    except Exception:  # noqa: BLE001 - any trouble reading it: seed again
        return -1


def prepare_database(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """A fresh copy of the seeded template; seeds the template first when it is missing or of another size."""
    seed_file = args.var_dir.parent / f"{args.var_dir.name}-seed-{args.reports}.sqlite3"
    seed_url = None
    if not args.embedded:
        name, admin = _pg_parts(args.database_url)
        seed_url = args.database_url.rsplit("/", 1)[0] + f"/{name}_seed"
    info: dict[str, Any] = {"template": seed_url or str(seed_file)}
    if _seeded_reports(args, seed_url, seed_file) != args.reports:
        t = time.monotonic()
        if seed_url is not None:
            _pg(admin, f"drop database if exists {name}_seed with (force)")
            _pg(admin, f"create database {name}_seed")
        else:
            seed_file.unlink(missing_ok=True)
        env = server_env(args, seed_url or f"sqlite:///{seed_file}")
        subprocess.run([sys.executable, __file__, "--seed-only", "--reports", str(args.reports)], env=env, cwd=REPO, check=True)
        info["seeded_seconds"] = round(time.monotonic() - t, 1)
    if seed_url is not None:
        _pg(admin, f"drop database if exists {name} with (force)")
        _pg(admin, f"create database {name} template {name}_seed")
        return args.database_url, info
    if args.var_dir.exists():
        shutil.rmtree(args.var_dir)
    args.var_dir.mkdir(parents=True)
    shutil.copyfile(seed_file, args.var_dir / "chexgold.sqlite3")
    return None, info


def seed_main(reports: int) -> None:
    """In a child process whose DATABASE_URL is the template: migrate, import, rule-label, priorities."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from annotator.services.assignment import report_priorities_refresh_once
    from labeling.services.prelabel import new_reports_prelabel
    from labeling.services.report_import import report_import

    call_command("migrate", verbosity=0)
    path = Path(os.environ["CHEXGOLD_VAR_DIR"]) / f"reader-loop-reports-{reports}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write("id,Reports\n")
        for n in range(reports):
            rng = random.Random(n)
            text = " ".join(rng.sample(FINDINGS, 2))
            fh.write(f'RL{n:07d},"EXAMINATION: Chest PA and lateral, study {n}. FINDINGS: {text} IMPRESSION: {rng.choice(FINDINGS)}"\n')
    result = report_import(path=path)
    assert result.ok, result.errors[:5]
    new_reports_prelabel(report_ids=result.created_ids, inline=True)
    report_priorities_refresh_once()  # what the queued task does after an import
    get_user_model().objects.create(username="reader-loop-seeded", is_active=False)  # marks the template complete
    print(f"seeded {len(result.created_ids)} reports", flush=True)


def admin_token() -> str:
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_or_update

    user, _ = user_create_or_update(username="loadadmin", password=secrets.token_urlsafe(18), roles=[Role.ADMIN])
    return Token.objects.get_or_create(user=user)[0].key


def reader_tokens(readers: int) -> dict[str, str]:
    """Reader accounts with API tokens (passwords are not used: a fast hasher)."""
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_or_update

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tokens = {}
    for i in range(readers):
        user, _ = user_create_or_update(username=f"loadreader{i:03d}", password=secrets.token_urlsafe(18), roles=[Role.READER])
        tokens[user.username] = Token.objects.get_or_create(user=user)[0].key
    return tokens


# --- the servers --------------------------------------------------------------------------
@dataclass
class Stack:
    cwd: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[Any] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> None:
        log = open(log_dir / f"{name}.log", "wb")
        self.logs.append(log)
        self.children[name] = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for child in self.children.values():  # by PID: the processes this script started
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for log in self.logs:
            log.close()


def start_stack(args: argparse.Namespace, database_url: str | None) -> Stack:
    env = server_env(args, database_url)
    run_dir = args.var_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{args.port}"
    stack = Stack(cwd=args.server_repo.resolve())
    if args.embedded:
        from chexgold.demo import demo_commands

        commands = demo_commands(address=address, web_workers=args.workers, run_dir=run_dir)
        if args.runserver:
            commands["web"] = [sys.executable, "manage.py", "runserver", address, "--noreload"]
    else:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # no messages or cache left from an earlier run
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "chexgold.wsgi:application", "--bind", address, "--workers", str(args.workers),
                    "--worker-class", "sync", "--timeout", "120", "--graceful-timeout", "10"],
            "worker": [sys.executable, "-m", "celery", "-A", "chexgold", "worker", "-Q", "default,gpu", "--concurrency", "1",
                       "--loglevel", "WARNING", "-n", "reader-loop@%h", "--pidfile", str(run_dir / "worker.pid")],
        }
    for pidfile in run_dir.glob("*.pid"):
        pidfile.unlink()
    for name, cmd in commands.items():
        stack.start(name, cmd, env, args.var_dir)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for name, child in stack.children.items():
            if child.poll() is not None:
                stack.stop()
                raise SystemExit(f"{name} exited with {child.returncode}; see {args.var_dir / (name + '.log')}")
        try:
            if requests.get(f"http://{address}/healthz", timeout=2).status_code == 200:
                return stack
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stack.stop()
    raise SystemExit("the web server did not answer /healthz within 180 s")


# --- CPU and load ---------------------------------------------------------------------------
class CpuMeter:
    """CPU seconds of the server side over the run: the started processes and their
    children, and PostgreSQL backends serving the run's database (sampled every
    second, since backends come and go), plus the generator's own process CPU."""

    def __init__(self, stack: Stack, database: str | None) -> None:
        self.roots = {name: psutil.Process(child.pid) for name, child in stack.children.items()}
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.loads: list[float] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = []
        for name, root in self.roots.items():
            try:
                found.append((name, root))
                found.extend((name, p) for p in root.children(recursive=True))
            except psutil.Error:
                pass
        if self.database:
            for p in psutil.process_iter(["name", "cmdline"]):
                cmd = " ".join(p.info["cmdline"] or [])
                if cmd.startswith("postgres: ") and f" {self.database} " in cmd:
                    found.append(("postgresql", p))
        return found

    def _sample(self, initial: bool = False) -> None:
        for name, p in self._processes():
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            seconds = t.user + t.system
            if initial:
                self.first[p.pid] = seconds
            self.last[p.pid] = (name, seconds)

    def _run(self) -> None:
        while not self.stop_event.wait(1.0):
            self._sample()
            self.loads.append(os.getloadavg()[0])

    def start(self) -> None:
        self.load_before = os.getloadavg()
        self.machine_before = psutil.cpu_times()
        self.generator_before = time.process_time()
        self.wall_before = time.monotonic()
        self._sample(initial=True)
        self.thread.start()

    def finish(self) -> dict[str, Any]:
        self._sample()
        self.stop_event.set()
        self.thread.join()
        wall = time.monotonic() - self.wall_before
        by_name: dict[str, float] = {}
        for pid, (name, seconds) in self.last.items():
            by_name[name] = by_name.get(name, 0.0) + seconds - self.first.get(pid, 0.0)
        machine = psutil.cpu_times()
        busy = sum(getattr(machine, f) - getattr(self.machine_before, f) for f in ("user", "system", "nice", "irq", "softirq"))
        generator = time.process_time() - self.generator_before
        server = sum(by_name.values())
        return {
            "wall_seconds": round(wall, 1),
            "server_cpu_seconds": {name: round(v, 1) for name, v in sorted(by_name.items())},
            "server_cores": round(server / wall, 2),
            "generator_cpu_seconds": round(generator, 1),
            "generator_cores": round(generator / wall, 2),
            "machine_busy_cores": round(busy / wall, 2),
            "other_processes_cores": round(max(0.0, busy - server - generator) / wall, 2),
            "cores": psutil.cpu_count(),
            "load_average_before": [round(x, 2) for x in self.load_before],
            "load_average_during_mean_1min": round(sum(self.loads) / len(self.loads), 2) if self.loads else None,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }


# --- the readers ------------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.accepted: dict[int, tuple[str, int, dict[str, str]]] = {}  # annotation id -> (reader, report id, labels sent)
        self.stopped_readers: list[str] = []
        self.started = time.monotonic()
        self.timeline: list[tuple[float, float]] = []  # (seconds into the run at the answer, latency) of every request
        self.import_events: dict[str, Any] = {}

    def record(self, endpoint: str, seconds: float, status: int, detail: str = "") -> None:
        with self.lock:
            self.latency.setdefault(endpoint, []).append(seconds)
            self.timeline.append((time.monotonic() - self.started, seconds))
            if not 200 <= status < 300:
                key = f"{endpoint} {status or 'exception'}"
                self.errors[key] = self.errors.get(key, 0) + 1
                if len(self.error_samples) < 20:
                    self.error_samples.append(f"{key}: {detail[:300]}")


def random_labels(rng: random.Random) -> dict[str, str]:
    labels = dict.fromkeys(OBSERVATIONS, "blank")
    if rng.random() < 0.4:
        labels["No Finding"] = "positive"
    else:
        for name in rng.sample(OBSERVATIONS[1:], rng.randint(1, 3)):
            labels[name] = rng.choice(["positive", "positive", "negative", "uncertain"])
    return labels


class Reader:
    def __init__(self, username: str, token: str, base: str, args: argparse.Namespace, rec: Recorder, stop_at: float, seed: int):
        self.username, self.base, self.args, self.rec, self.stop_at = username, base, args, rec, stop_at
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def call(self, endpoint: str, method: str, path: str, ok: tuple[int, ...], **kw: Any) -> requests.Response | None:
        t = time.perf_counter()
        try:
            res = self.http.request(method, self.base + path, timeout=120, **kw)
        except requests.RequestException as exc:
            self.rec.record(endpoint, time.perf_counter() - t, 0, repr(exc))
            return None
        self.rec.record(endpoint, time.perf_counter() - t, res.status_code, res.text)
        return res if res.status_code in ok else None

    def think(self) -> bool:
        """Sleep the think time; False when the run ends first (the read is left unsubmitted)."""
        lo, hi = self.args.think_range
        pause = self.rng.uniform(lo, hi)
        if time.monotonic() + pause >= self.stop_at:
            return False
        time.sleep(pause)
        return True

    def run(self) -> None:
        failures = 0
        while time.monotonic() < self.stop_at and failures < 3:
            step = self.read_four_requests if self.args.flow == "four-request" else self.read_one_request
            outcome = step()
            if outcome in ("done", "ended"):  # nothing left to read, or the run ends during the think time
                return
            failures = failures + 1 if outcome == "failed" else 0
            if outcome == "failed":
                time.sleep(1.0)
        if failures >= 3:
            with self.rec.lock:
                self.rec.stopped_readers.append(self.username)

    def read_four_requests(self) -> str:
        nxt = self.call("POST /api/reports/next/", "POST", "/api/reports/next/", (200, 204))
        if nxt is None:
            return "failed"
        if nxt.status_code == 204:
            return "done"
        report_id = nxt.json()["id"]
        if self.call("GET /api/reports/<id>/", "GET", f"/api/reports/{report_id}/", (200,)) is None:
            return "failed"
        values = random_labels(self.rng)
        draft_values = {k: v for k, v in values.items() if v != "blank"}  # half-done: what the reader set so far
        draft = self.call("POST /api/annotations/ (draft)", "POST", "/api/annotations/", (201,),
                          json={"report": report_id, "labels": draft_values})
        if draft is None:
            return "failed"
        if not self.think():
            return "ended"
        body = draft.json()
        sub = self.call("POST /api/annotations/<id>/submit/", "POST", f"/api/annotations/{body['id']}/submit/", (200,),
                        json={"labels": values, "version": body["version"], "override_warnings": True})
        if sub is None:
            return "failed"
        self.accept(sub.json()["id"], report_id, values)
        return "ok"

    def read_one_request(self) -> str:
        nxt = self.call("POST /api/reports/next/?include=report", "POST", "/api/reports/next/?include=report", (200, 204))
        if nxt is None:
            return "failed"
        if nxt.status_code == 204:
            return "done"
        report_id = nxt.json()["id"]
        values = random_labels(self.rng)
        if not self.think():
            return "ended"
        sub = self.call("POST /api/annotations/ (submit)", "POST", "/api/annotations/", (201,),
                        json={"report": report_id, "labels": values, "submit": True, "override_warnings": True})
        if sub is None:
            return "failed"
        self.accept(sub.json()["id"], report_id, values)
        return "ok"

    def accept(self, annotation_id: int, report_id: int, values: dict[str, str]) -> None:
        with self.rec.lock:
            self.rec.accepted[annotation_id] = (self.username, report_id, values)


def import_during_run(args: argparse.Namespace, token: str, rec: Recorder, stop_at: float) -> None:
    """Upload new reports as an admin at --import-at and follow the batch until it is done."""
    base = f"http://127.0.0.1:{args.port}"
    rows = ["id,Reports"] + [
        f'RLI{args.seed}-{n:07d},"FINDINGS: {" ".join(random.Random(-n).sample(FINDINGS, 2))} IMPRESSION: New study {n}."'
        for n in range(args.import_reports)
    ]
    time.sleep(max(0.0, rec.started + float(args.import_at) - time.monotonic()))
    headers = {"Authorization": f"Token {token}"}
    t = time.monotonic()
    res = requests.post(f"{base}/api/imports/", headers=headers, timeout=300,
                        files={"file": ("reader-loop-import.csv", "\n".join(rows) + "\n", "text/csv")})
    events: dict[str, Any] = {"at_s": round(t - rec.started, 1), "reports": args.import_reports, "upload_status": res.status_code}
    rec.import_events = events
    if res.status_code != 202:
        events["error"] = res.text[:500]
        return
    batch = res.json()["id"]
    while time.monotonic() < stop_at + 60:
        status = requests.get(f"{base}/api/imports/{batch}/", headers=headers, timeout=60).json()["status"]
        if status in ("succeeded", "failed"):
            events.update(status=status, done_at_s=round(time.monotonic() - rec.started, 1))
            return
        time.sleep(0.5)


def run_readers(args: argparse.Namespace, tokens: dict[str, str], rec: Recorder, admin: str | None = None) -> float:
    start = time.monotonic()
    rec.started = start
    stop_at = start + args.duration
    base = f"http://127.0.0.1:{args.port}"
    readers = [Reader(u, t, base, args, rec, stop_at, args.seed * 1000 + i) for i, (u, t) in enumerate(tokens.items())]
    threads = [threading.Thread(target=r.run, name=r.username) for r in readers]
    if admin is not None:
        threads.append(threading.Thread(target=import_during_run, args=(args, admin, rec, stop_at), name="import"))
    for t in threads:
        t.start()
        time.sleep(min(0.05, args.duration / 100))  # readers arrive over ~2.5 s, not in one burst
    for t in threads:
        t.join()
    return time.monotonic() - start


# --- results ----------------------------------------------------------------------------------
def percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else 0.0


def timeline(points: list[tuple[float, float]], width: float) -> list[dict[str, float]]:
    """All requests by the time they were answered: count, p95 and max latency per `width` seconds."""
    buckets: dict[int, list[float]] = {}
    for at, seconds in points:
        buckets.setdefault(int(at // width), []).append(seconds)
    last = max(buckets, default=-1)
    return [  # windows where nothing was answered are listed too: they are what a stall looks like
        {"from_s": b * width, "requests": len(v), "p95_ms": percentile_ms(v, 0.95), "max_ms": round(max(v) * 1000, 1) if v else 0.0}
        for b, v in ((b, buckets.get(b, [])) for b in range(last + 1))
    ]


def verify(rec: Recorder, readers: list[str]) -> dict[str, Any]:
    """Every accepted submit stored once, by its reader, for its report, with the values sent."""
    from django.db.models import Count

    from labeling.models import Annotation
    from labeling.selectors import runtime_settings_get

    stored = {a.id: a for a in Annotation.objects.filter(id__in=list(rec.accepted)).select_related("reader")}
    missing = [i for i in rec.accepted if i not in stored]
    wrong = [
        i for i, (reader, report_id, values) in rec.accepted.items()
        if i in stored and (stored[i].reader.username != reader or stored[i].report_id != report_id
                            or stored[i].status != Annotation.Status.SUBMITTED or stored[i].labels != values)
    ]
    mine = Annotation.objects.filter(reader__username__in=readers)
    duplicates = mine.values("report_id", "reader_id").annotate(n=Count("id")).filter(n__gt=1).count()
    submitted = mine.filter(status=Annotation.Status.SUBMITTED).count()
    k = runtime_settings_get().reads_per_report
    over_k = (Annotation.objects.filter(status=Annotation.Status.SUBMITTED, is_calibration=False)
              .values("report_id").annotate(n=Count("id")).filter(n__gt=k).count())
    return {
        "accepted_submits": len(rec.accepted),
        "accepted_missing": len(missing),
        "accepted_with_other_values": len(wrong),
        "duplicate_reads": duplicates,
        "submitted_but_not_acknowledged": submitted - len(rec.accepted),
        "reports_over_k_reads": over_k,
        "nothing_lost": not missing and not wrong and duplicates == 0 and over_k == 0,
    }


def summarise(args: argparse.Namespace, rec: Recorder, elapsed: float, cpu: dict[str, Any], verification: dict[str, Any],
              seeding: dict[str, Any]) -> dict[str, Any]:
    total = sum(len(v) for v in rec.latency.values())
    if args.import_at is not None:
        what_extra = f", an import of {args.import_reports} reports uploaded at {args.import_at:g} s"
    else:
        what_extra = ""
    if args.busy:
        what_extra += f", another process spinning {args.busy:g} of a core"
    if args.embedded:
        stack = ("Django runserver (development server)" if args.runserver else f"gunicorn {args.workers} sync workers (as run_demo)") \
            + " + SQLite (WAL) + SQLite-file broker + Celery worker (--concurrency 2) + beat"
    else:
        stack = f"gunicorn {args.workers} sync workers + PostgreSQL + Redis (broker, results, cache) + one Celery worker"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {
        "what": f"{args.readers} readers, {args.flow} flow, think {args.think} s, {args.duration:g} s, {args.reports} reports"
                + what_extra,
        "server_code": "this checkout" if args.server_repo.resolve() == REPO else str(args.server_repo),
        "command": "bench/load/reader_loop.py " + " ".join(sys.argv[1:]),
        "stack": stack,
        "commit": commit,
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "submits_per_second": round(len(rec.accepted) / elapsed, 2),
        "endpoints": {
            name: {"count": len(v), "p50_ms": percentile_ms(v, 0.50), "p95_ms": percentile_ms(v, 0.95),
                   "p99_ms": percentile_ms(v, 0.99), "max_ms": round(max(v) * 1000, 1)}
            for name, v in sorted(rec.latency.items())
        },
        "errors": sum(rec.errors.values()),
        "errors_by_endpoint": rec.errors,
        "error_samples": rec.error_samples,
        "readers_stopped_after_errors": rec.stopped_readers,
        "import_during_run": rec.import_events or None,
        "timeline_5s": timeline(rec.timeline, 5.0),
        "verification": verification,
        # CPU a request costs the server side (web, database, worker): comparable across loads, unlike latencies.
        "server_cpu_ms_per_request": round(1000 * sum(cpu["server_cpu_seconds"].values()) / total, 1) if total else None,
        "cpu": cpu,
        "seeding": seeding,
    }


def print_summary(result: dict[str, Any]) -> None:
    print(f"\n{result['what']}\n{result['stack']}")
    print(f"{'endpoint':42} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  ms")
    for name, e in result["endpoints"].items():
        print(f"{name:42} {e['count']:>6} {e['p50_ms']:>8} {e['p95_ms']:>8} {e['p99_ms']:>8} {e['max_ms']:>8}")
    cpu, v = result["cpu"], result["verification"]
    print(f"{result['requests_per_second']} requests/s, {result['submits_per_second']} submits/s, {result['errors']} errors, "
          f"nothing lost: {v['nothing_lost']} ({v['accepted_submits']} accepted)")
    print(f"CPU (cores): server {cpu['server_cores']} {cpu['server_cpu_seconds']} ({result['server_cpu_ms_per_request']} ms a request), "
          f"generator {cpu['generator_cores']}, "
          f"other processes {cpu['other_processes_cores']}; load average before {cpu['load_average_before'][0]}, "
          f"during {cpu['load_average_during_mean_1min']}")


_BUSY_LOOP = """
import sys, time
share = float(sys.argv[1])
while True:
    end = time.perf_counter() + 0.01 * share
    while time.perf_counter() < end:
        pass
    time.sleep(0.01 * (1 - share))
"""


def _busy_start(share: float) -> subprocess.Popen[bytes] | None:
    """Another process spinning `share` of one core (10-ms periods), as on a shared machine."""
    if share <= 0:
        return None
    return subprocess.Popen([sys.executable, "-c", _BUSY_LOOP, str(min(share, 1.0))])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.seed_only:
        seed_main(args.reports)
        return {}
    args.var_dir = args.var_dir.resolve()
    args.var_dir.mkdir(parents=True, exist_ok=True)
    database_url, seeding = prepare_database(args)
    os.environ.update(server_env(args, database_url))
    if args.embedded:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)  # a template seeded by an older checkout gains newer migrations
    tokens = reader_tokens(args.readers)
    admin = admin_token() if args.import_at is not None else None
    connections.close_all()
    stack = start_stack(args, database_url)
    rec = Recorder()
    busy = _busy_start(args.busy)
    try:
        meter = CpuMeter(stack, None if args.embedded else _pg_parts(str(database_url))[0])
        meter.start()
        elapsed = run_readers(args, tokens, rec, admin)
        cpu = meter.finish()
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait()
        stack.stop()
    result = summarise(args, rec, elapsed, cpu, verify(rec, list(tokens)), seeding)
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {args.out}")
    return result


def exit_code(result: dict[str, Any]) -> int:
    return 0 if not result or (result["errors"] == 0 and result["verification"]["nothing_lost"]) else 1


if __name__ == "__main__":
    sys.exit(exit_code(main()))

