"""Import and export at scale, new code against old code in the same run (#19).

    nice -n 5 .venv/bin/python bench/bench_import_export.py [--n 200000] [--big 1000000]
        [--database-url postgres://postgres@127.0.0.1:5432/h7_bench] [--old /tmp/h7_old] [--skip-old-big]

What it measures, each in a fresh child process (so peak RSS is the job's own):
- `report_import` of N reports (validation, de-identification, sections, write;
  no labelling), on SQLite and, with --database-url, on PostgreSQL: old, new,
  old, new (interleaved, since the machine is shared), then, for each, a
  re-import of the same file (nothing new);
- `report_import` of BIG reports on SQLite (memory flat in the file size?);
- the gold CSV export of BIG rows (and JSONL, new code only) from that database.

Old code: a git worktree of commit b2bf0ec (`--old`, created with `git worktree
add` when missing, its .venv a link to this one's). Each child runs this file
with the code under test first on sys.path. Figures per run: wall seconds, CPU
seconds of the process (user + system) and, on PostgreSQL, of its server
backend too, and the peak RSS of the job (VmHWM, reset just before it). The
load average is recorded before and after each run. Report texts are generated
deterministically: the demo reports' MIMIC/Open-i style texts (sections), a
second paragraph in some, PHI-like strings (dates, names, phone numbers, MRNs)
in about 1 in 10, lengths ~300-1,500 characters.

Prints and saves bench/results/import_export.json (SQLite) and
bench/results/import_export_postgresql.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
OLD_COMMIT = "b2bf0ec"

PHI_SNIPPETS = (
    " Compared with the study of 03/14/2021.",
    " Dr. John Smith was notified at 555-123-4567.",
    " MRN: 12345678.",
    " Discussed with Dr. Adams on March 3, 2020.",
    " Dictated by: Jane Q. Doe, MD",
    " Comparison: 2019-06-29.",
)
EXTRA_FINDINGS = (
    "There is mild atelectasis at the left base. The osseous structures are unremarkable.",
    "Degenerative changes are noted in the thoracic spine. No acute fracture is identified.",
    "A right internal jugular central venous catheter terminates in the mid SVC. No pneumothorax.",
    "Mild pulmonary vascular congestion without frank edema. Heart size is top normal.",
)


# --- data -------------------------------------------------------------------------------------
def write_reports_csv(path: Path, n: int, seed: int = 0) -> float:
    """N synthetic reports in the MIMIC-CXR CSV convention; returns the mean text length."""
    with open(REPO / "demo" / "reports.csv", newline="", encoding="utf-8") as fh:
        texts = [row["Reports"] for row in csv.DictReader(fh)]
    rng = random.Random(seed)
    total = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["study_id", "subject_id", "study_date", "view", "text"])
        for i in range(n):
            text = rng.choice(texts)
            if rng.random() < 0.4:
                text += "\n\n" + " ".join(rng.sample(EXTRA_FINDINGS, rng.randint(1, 3)))
            if rng.random() < 0.1:
                text += rng.choice(PHI_SNIPPETS)
            text += f"\n(Study {i}.)"
            total += len(text)
            writer.writerow([f"S{i:08d}", f"{10_000_000 + i // 3}", f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}",
                             rng.choice(("PA", "AP", "LAT")), text])
    return total / n


# --- measuring ----------------------------------------------------------------------------------
def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Measure:
    """Wall, CPU (this process and the database backend when it is local) and peak RSS of a block."""

    def __init__(self, backend_pid: int | None) -> None:
        self.backend_pid = backend_pid
        self.figures: dict[str, float] = {}

    def __enter__(self) -> Measure:
        _reset_peak_rss()
        self.rss0 = _vm_hwm_mb()
        self.cpu0 = _cpu_s()
        self.db0 = _process_cpu_s(self.backend_pid) if self.backend_pid else 0.0
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        cpu = _cpu_s() - self.cpu0
        self.figures = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_before_mb": round(self.rss0),
                        "peak_rss_mb": round(_vm_hwm_mb())}
        if self.backend_pid:
            db = _process_cpu_s(self.backend_pid) - self.db0
            self.figures["db_backend_cpu_s"] = round(db, 2)
            self.figures["cpu_with_db_s"] = round(cpu + db, 2)


# --- child: one job on one code base ------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, args.code)
    os.environ["CHEXGOLD_VAR_DIR"] = args.var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connection

    if args.job == "import" and args.fresh:
        if connection.vendor == "postgresql" and "labeling_report" in connection.introspection.table_names():
            call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", verbosity=0)
    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
    out: dict[str, object] = {"code": args.code, "database": connection.vendor, "job": args.job}
    if args.job == "import":
        from labeling.services.report_import import report_import

        with Measure(backend_pid) as m:
            result = report_import(path=args.file)
        assert result.ok, result.errors[:5]
        out.update(m.figures, rows_read=result.rows_read, created=len(result.created_ids))
    elif args.job == "gold":
        out.update(gold_rows_create())
    else:
        from labeling.services.exports import gold_label_set_export

        out_path = Path(args.var_dir) / f"gold.{args.job}"
        rows = 0
        with Measure(backend_pid) as m, open(out_path, "w", encoding="utf-8", newline="") as fh:
            for chunk in gold_label_set_export(fmt=args.job):
                fh.write(chunk)
                rows += 1
        out.update(m.figures, chunks=rows, bytes=out_path.stat().st_size)
        out_path.unlink()
    print("RESULT " + json.dumps(out))


def gold_rows_create() -> dict[str, object]:
    """A current gold label for every report (raw inserts: this is set-up, not measured)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from labeling.models import GoldLabel, Report
    from labeling.observations import OBSERVATION_NAMES

    values = ("positive", "negative", "uncertain", "blank")
    rng = random.Random(1)
    table = GoldLabel._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (f"INSERT INTO {table} (report_id, labels, method, rationale, is_current, created_at) "
           "VALUES (%s, %s, 'agreement', '', %s, %s)")
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        ids = Report.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=10_000)
        batch: list[tuple[int, str, bool, str | None]] = []
        for report_id in ids:
            labels = json.dumps({o: rng.choice(values) for o in OBSERVATION_NAMES})
            batch.append((report_id, labels, True, now))
            if len(batch) >= 10_000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return {"gold_rows": count}


# --- parent -------------------------------------------------------------------------------------
def old_checkout(path: Path) -> Path:
    if not (path / "labeling").is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), OLD_COMMIT], check=True)
    if not (path / ".venv").exists():
        (path / ".venv").symlink_to(REPO / ".venv")
    return path


def run_child(code: Path, job: str, var_dir: Path, database_url: str | None, file: Path | None = None,
              fresh: bool = False) -> dict[str, object]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--code", str(code), "--job", job,
           "--var-dir", str(var_dir)]
    if database_url:
        cmd += ["--database-url", database_url]
    if file:
        cmd += ["--file", str(file)]
    if fresh:
        cmd.append("--fresh")
    load_before = os.getloadavg()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, cwd=str(code), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({code}, {job}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["label"] = "old" if code != REPO else "new"
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result), flush=True)
    return result


def ratios(runs: list[dict[str, object]], keys: tuple[str, ...]) -> dict[str, float]:
    """new/old of the mean of each figure over the runs of each."""
    out = {}
    for key in keys:
        old = [float(r[key]) for r in runs if r["label"] == "old" and key in r]  # type: ignore[arg-type]
        new = [float(r[key]) for r in runs if r["label"] == "new" and key in r]  # type: ignore[arg-type]
        if old and new:
            out[f"{key}_new_over_old"] = round((sum(new) / len(new)) / (sum(old) / len(old)), 3)
    return out


def import_suite(old: Path, data: Path, n: int, database_url: str | None, work: Path, repeats: int) -> dict[str, object]:
    runs: list[dict[str, object]] = []
    reimports: list[dict[str, object]] = []
    for rep in range(repeats):
        for code in (old, REPO):
            var_dir = work / f"{'old' if code == old else 'new'}-{rep}-{'pg' if database_url else 'sqlite'}"
            var_dir.mkdir(parents=True, exist_ok=True)
            runs.append(run_child(code, "import", var_dir, database_url, data, fresh=True))
            if rep == repeats - 1:
                again = run_child(code, "import", var_dir, database_url, data)  # the same file again: nothing new
                assert again["created"] == 0
                reimports.append(again)
            shutil.rmtree(var_dir, ignore_errors=True)
    keys = ("wall_s", "cpu_s", "peak_rss_mb", "cpu_with_db_s")
    return {"reports": n, "runs": runs, **ratios(runs, keys), "reimport_unchanged_runs": reimports,
            "reimport_unchanged": ratios(reimports, keys)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2, help="old/new pairs per database at N")
    parser.add_argument("--database-url", default=None, help="PostgreSQL database for the PostgreSQL half (flushed!)")
    parser.add_argument("--old", default="/tmp/h7_old", help=f"checkout of {OLD_COMMIT} (created when missing)")
    parser.add_argument("--skip-old-big", action="store_true", help="only the new code at BIG reports")
    parser.add_argument("--only", choices=("sqlite", "postgresql", "big"), default=None)
    # child mode
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    old = old_checkout(Path(args.old))
    work = Path(tempfile.mkdtemp(prefix="chexgold-bench-ie-"))
    common: dict[str, object] = {"benchmark": "import_export", "old_commit": OLD_COMMIT, "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "command": " ".join(sys.argv)}
    try:
        data = work / "reports.csv"
        mean_chars = write_reports_csv(data, args.n)
        common.update(mean_report_chars=round(mean_chars), file_mb=round(data.stat().st_size / 2**20, 1))
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "postgresql") and args.database_url:
            figures = {**common, "database": "postgresql",
                       "import": import_suite(old, data, args.n, args.database_url, work, args.repeats)}
            (RESULTS_DIR / "import_export_postgresql.json").write_text(json.dumps(figures, indent=2) + "\n")
        if args.only in (None, "sqlite", "big"):
            path = RESULTS_DIR / "import_export.json"
            figures = json.loads(path.read_text()) if args.only == "big" and path.exists() else {}
            figures.update(common, database="sqlite")
            if args.only != "big":
                figures["import"] = import_suite(old, data, args.n, None, work, args.repeats)
            if args.only != "sqlite":
                figures["big"] = big_suite(old, args, work)
            path.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"saved to {RESULTS_DIR}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def big_suite(old: Path, args: argparse.Namespace, work: Path) -> dict[str, object]:
    """BIG reports: import peak RSS (new, and old unless --skip-old-big), then
    gold CSV export of BIG rows old vs new and JSONL new, from one database."""
    data = work / "big.csv"
    mean_chars = write_reports_csv(data, args.big, seed=2)
    out: dict[str, object] = {"reports": args.big, "mean_report_chars": round(mean_chars),
                              "file_mb": round(data.stat().st_size / 2**20, 1)}
    runs = []
    if not args.skip_old_big:
        var_old = work / "big-old"
        var_old.mkdir()
        runs.append(run_child(old, "import", var_old, None, data, fresh=True))
        shutil.rmtree(var_old, ignore_errors=True)
    var_dir = work / "big-new"
    var_dir.mkdir()
    runs.append(run_child(REPO, "import", var_dir, None, data, fresh=True))
    data.unlink()
    out["import_runs"] = runs
    out.update(ratios(runs, ("wall_s", "cpu_s", "peak_rss_mb")))
    run_child(REPO, "gold", var_dir, None)
    exports = []
    for code in (old, REPO, old, REPO):
        exports.append(run_child(code, "csv", var_dir, None))
    out["csv_export_runs"] = exports
    out["csv_export"] = ratios(exports, ("wall_s", "cpu_s", "peak_rss_mb"))
    out["jsonl_export_new"] = run_child(REPO, "jsonl", var_dir, None)
    shutil.rmtree(var_dir, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
