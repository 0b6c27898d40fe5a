"""Seed a named PostgreSQL database fast (COPY) with a 200k-report install, and reuse it.

    .venv/bin/python bench/_seed.py --root /tmp/h6_old --database-url postgres://postgres@127.0.0.1:5432/h6_bench_base \\
        [--reports 200000] [--gold 10000] [--readers 10]

Migrates with the code under `--root` (old or new tree: the seed writes only
tables both have), then, unless the database already holds this seed (a
marker row counts the reports), writes with COPY:

- `--reports` reports (the first `--gold` gold, split 1:4 validation:train);
- predictions: the rule labeler 1.1 and the active model "model-2" for every
  report, the older "model-1" for the gold reports; the model differs from the
  rules on one observation in ~10 % of reports;
- two submitted reads of each gold report and of `--gold`/2 reports still in
  review (two days old: released to their readers), by `--readers` readers;
  one reader ("reader00") also holds 20 recent reads (unreleased, hidden from her);
- the gold labels (current, by agreement);
- three history rows per read (created, draft saved, submitted) and one per
  gold label: the audit history (~100k rows at the defaults);
- users: boss (admin), adj (adjudicator), reader00.. (readers), with API tokens.

Queue priorities are left to each side's own `report_priorities_refresh` (the
column set differs between old and new code). Deterministic (seeded RNG).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

VALUES = ("positive", "negative", "uncertain", "blank")
PREVALENCE = (0.08, 0.12, 0.03, 0.77)
MARKER = "bench-seed"


def django_setup(root: str, database_url: str, var_dir: str) -> None:
    sys.path.insert(0, root)
    os.environ["DATABASE_URL"] = database_url
    os.environ["CHEXGOLD_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")
    Path(var_dir).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def _copy(model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY `rows` (attname -> value) into `model`'s table; absent fields take their default."""
    from django.db import connection

    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.attname not in rows[0])]
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    defaults = {f.attname: (f.get_default() if f.has_default() or f.null else None) for f in fields}
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN") as copy:
            for row in rows:
                out = []
                for f in fields:
                    v = row.get(f.attname, defaults[f.attname])
                    if isinstance(v, dict | list):
                        v = json.dumps(v)
                    out.append(v)
                copy.write_row(out)


def _seeded(n_reports: int) -> bool:
    from labeling.models import ImportBatch, Report

    marker = ImportBatch.objects.filter(filename=MARKER).first()
    return marker is not None and marker.rows_created == n_reports and Report.objects.count() == n_reports


def seed(*, n_reports: int, n_gold: int, n_readers: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from labeling.models import Annotation, GoldLabel, ImportBatch, MachinePrediction, ModelVersion, Report, RuntimeSettings
    from labeling.observations import OBSERVATION_NAMES
    from labeling.selectors import runtime_settings_get

    call_command("migrate", verbosity=0)
    if _seeded(n_reports):
        return {"reused": True}
    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    rng = random.Random(20240601)
    now = timezone.now()
    long_ago = now - dt.timedelta(days=2)
    users = [user_create_or_update(username=f"reader{i:02d}", password="correct-horse-42", roles=[Role.READER])[0]
             for i in range(n_readers)]
    boss = user_create_or_update(username="boss", password="correct-horse-42", roles=[Role.ADMIN])[0]
    adj = user_create_or_update(username="adj", password="correct-horse-42", roles=[Role.ADJUDICATOR])[0]
    for u in [*users, boss, adj]:
        Token.objects.get_or_create(user=u)
    row = runtime_settings_get()
    row.reads_per_report = 2
    row.queue_order = RuntimeSettings.QueueOrder.SEQUENTIAL
    row.save()
    models = []
    for k in (1, 2):
        mv = ModelVersion.objects.create(name=f"model-{k}", checkpoint_path=f"/models/{k}", stage="gold", is_active=False)
        models.append(mv)
    ModelVersion.objects.filter(id=models[1].id).update(is_active=True)

    def draw() -> dict[str, str]:
        return {n: rng.choices(VALUES, PREVALENCE)[0] for n in OBSERVATION_NAMES}

    def noisy(labels: dict[str, str], p_keep: float) -> dict[str, str]:
        return {k: (v if rng.random() < p_keep else rng.choices(VALUES, PREVALENCE)[0]) for k, v in labels.items()}

    with transaction.atomic():
        batch = ImportBatch.objects.create(filename=MARKER, status=ImportBatch.Status.SUCCEEDED, rows_created=n_reports)
        reports: list[dict[str, Any]] = [{"external_id": f"B{i:07d}", "patient_id": f"P{i // 3:06d}", "text": f"FINDINGS: synthetic study {i}. No acute process.",
                    "text_sha256": f"{i:064x}", "gold_split": ("validation" if i % 5 == 0 else "train") if i < n_gold else "",
                    "import_batch_id": batch.id, "created_at": now, "metadata": {}, "sections": [], "redacted_kinds": [],
                    "is_flagged": False, "is_withdrawn": False} for i in range(n_reports)]
        _copy(Report, reports)
        ids = list(Report.objects.order_by("id").values_list("id", flat=True))
        truth = [draw() for _ in ids]
        preds: list[dict[str, Any]] = []
        for i, rid in enumerate(ids):
            rules = noisy(truth[i], 0.9)
            model = dict(rules)
            if rng.random() < 0.10:  # rules and the active model disagree on one observation
                name = rng.choice(OBSERVATION_NAMES)
                model[name] = next(v for v in VALUES if v != rules[name])
            preds.append({"report_id": rid, "source": "rules", "source_version": "1.1", "labels": rules, "evidence": {},
                          "created_at": now})
            preds.append({"report_id": rid, "source": "model", "source_version": "model-2", "model_version_id": models[1].id,
                          "labels": model, "created_at": now})
            if i < n_gold:
                preds.append({"report_id": rid, "source": "model", "source_version": "model-1", "model_version_id": models[0].id,
                              "labels": noisy(truth[i], 0.85), "created_at": now})
            if len(preds) >= 30000:
                _copy(MachinePrediction, preds)
                preds = []
        _copy(MachinePrediction, preds)

        # Reads: two per gold report and per in-review report; reader00 also has 20 recent (unreleased) reads.
        reads: list[dict[str, Any]] = []
        read_reports = [(i, ids[i]) for i in range(n_gold + n_gold // 2)]
        for i, rid in read_reports:
            pair = rng.sample(range(n_readers), 2)
            for j, uid in enumerate(pair):
                recent = uid == 0 and n_gold <= i < n_gold + 20
                reads.append({"report_id": rid, "reader_id": users[uid].id, "labels": noisy(truth[i], 0.9 if j == 0 else 0.85),
                              "status": "submitted", "version": 2, "time_spent_seconds": 30.0, "created_at": long_ago,
                              "updated_at": now if recent else long_ago, "submitted_at": now if recent else long_ago,
                              "is_calibration": False})
        _copy(Annotation, reads)
        gold = [{"report_id": ids[i], "labels": truth[i], "method": "agreement", "is_current": True, "rationale": "",
                 "created_at": long_ago} for i in range(n_gold)]
        _copy(GoldLabel, gold)

        history: list[dict[str, Any]] = []
        base = long_ago - dt.timedelta(days=30)
        for k, (aid, rid, uid, labels) in enumerate(Annotation.objects.order_by("id").values_list("id", "report_id", "reader_id", "labels")):
            for step, (kind, status, version) in enumerate((("+", "draft", 1), ("~", "draft", 1), ("~", "submitted", 2))):
                history.append({"id": aid, "report_id": rid, "reader_id": uid, "labels": labels, "status": status, "version": version,
                                "time_spent_seconds": 30.0, "created_at": base, "updated_at": base, "is_calibration": False,
                                "history_date": base + dt.timedelta(seconds=60 * k + 10 * step), "history_type": kind,
                                "history_user_id": uid, "history_change_reason": None})
            if len(history) >= 30000:
                _copy(Annotation.history.model, history)  # type: ignore[attr-defined]
                history = []
        _copy(Annotation.history.model, history)  # type: ignore[attr-defined]
        gold_history = [{"id": gid, "report_id": rid, "labels": labels, "method": "agreement", "is_current": True, "rationale": "",
                         "created_at": base, "history_date": base + dt.timedelta(seconds=60 * k + 45), "history_type": "+",
                         "history_change_reason": None}
                        for k, (gid, rid, labels) in enumerate(GoldLabel.objects.order_by("id").values_list("id", "report_id", "labels"))]
        _copy(GoldLabel.history.model, gold_history)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        # What autovacuum would have done on a live install: statistics and the visibility
        # map (index-only scans read no heap pages).
        cursor.execute("VACUUM ANALYZE")
    return {"reused": False, "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="code tree to migrate with")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--var-dir", default="/tmp/h6_var/seed")
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--gold", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=10)
    args = parser.parse_args()
    django_setup(args.root, args.database_url, args.var_dir)
    out = seed(n_reports=args.reports, n_gold=args.gold, n_readers=args.readers)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
