"""Statistics dashboard at scale: 200,000 reports, 10 readers, 10,000 gold labels.

    .venv/bin/python bench/bench_dashboard.py [--reports 200000] [--gold 10000] [--readers 10] [--models 3]
        [--resamples 1000] [--database-url postgres://...]

Seeds a throwaway database (bench/_django.py) with synthetic reports, the rule
labeler's and each model version's predictions for every report, two submitted
reads of each gold report (plus reads of reports still waiting for
adjudication) and the gold labels, then measures with Django's test Client,
in-process:

- cold: computing every figure into the cache (``statistics_get`` on an empty cache),
  for each label mapping;
- warm: the dashboard page (admin and reader) and a CSV download, data unchanged,
  median and max of repeated requests;
- the data-stamp query alone (paid by every request).

Prints and saves bench/results/dashboard[_postgresql].json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics as pystats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import RESULTS_DIR, machine_info, setup_django  # noqa: E402

VALUES = ("positive", "negative", "uncertain", "blank")
PREVALENCE = (0.08, 0.12, 0.03, 0.77)  # a rare-ish finding per observation


def _noisy(rng: random.Random, labels: dict[str, str], p_keep: float) -> dict[str, str]:
    return {k: (v if rng.random() < p_keep else rng.choices(VALUES, PREVALENCE)[0]) for k, v in labels.items()}


def seed(*, n_reports: int, n_gold: int, n_readers: int, n_models: int, seed_value: int = 0) -> dict[str, float]:
    from django.db import transaction
    from django.utils import timezone

    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from labeling.models import Annotation, GoldLabel, MachinePrediction, ModelVersion, Report
    from labeling.observations import OBSERVATION_NAMES

    rng = random.Random(seed_value)
    t0 = time.perf_counter()
    readers = [user_create_or_update(username=f"reader{i:02d}", password="correct-horse-42", roles=[Role.READER])[0]
               for i in range(n_readers)]
    user_create_or_update(username="boss", password="correct-horse-42", roles=[Role.ADMIN])
    truth = []
    with transaction.atomic():
        batch = []
        for i in range(n_reports):
            gold = i < n_gold
            batch.append(Report(external_id=f"B{i:07d}", text=f"FINDINGS: synthetic study {i}.", text_sha256=f"{i:064x}",
                                gold_split=("validation" if i % 5 == 0 else "train") if gold else ""))
            if len(batch) == 5000:
                Report.objects.bulk_create(batch)
                batch = []
        Report.objects.bulk_create(batch)
    ids = list(Report.objects.order_by("id").values_list("id", flat=True))
    for _ in ids:
        truth.append({name: rng.choices(VALUES, PREVALENCE)[0] for name in OBSERVATION_NAMES})
    t_reports = time.perf_counter() - t0

    t0 = time.perf_counter()
    models = [ModelVersion.objects.create(name=f"model-{k + 1}", checkpoint_path=f"/models/{k + 1}", stage="gold")
              for k in range(n_models)]
    for k, mv in enumerate(models):  # spread over time for the trend line
        ModelVersion.objects.filter(id=mv.id).update(created_at=timezone.now() - dt.timedelta(days=30 * (n_models - k)))
    sources: list[tuple[str, str, ModelVersion | None, float]] = [("rules", "1.1", None, 0.80)]
    sources += [("model", mv.name, mv, 0.82 + 0.04 * k) for k, mv in enumerate(models)]
    for source, version, model_version, p_keep in sources:
        with transaction.atomic():
            predictions: list[MachinePrediction] = []
            for rid, labels in zip(ids, truth, strict=True):
                predictions.append(MachinePrediction(report_id=rid, source=source, source_version=version, model_version=model_version,
                                                     labels=_noisy(rng, labels, p_keep)))
                if len(predictions) == 10000:
                    MachinePrediction.objects.bulk_create(predictions)
                    predictions = []
            MachinePrediction.objects.bulk_create(predictions)
    t_predictions = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_pending = n_gold // 10  # reports read twice, disagreeing, waiting for adjudication
    with transaction.atomic():
        annotations, golds = [], []
        now = timezone.now()
        for idx in range(n_gold + n_pending):
            rid, labels = ids[idx], truth[idx]
            pair = rng.sample(readers, 2)
            skill = [0.85 + 0.1 * (readers.index(r) % 3) / 2 for r in pair]
            for reader, p_keep in zip(pair, skill, strict=True):
                annotations.append(Annotation(report_id=rid, reader=reader, labels=_noisy(rng, labels, p_keep), status="submitted",
                                              submitted_at=now))
            if idx < n_gold:
                golds.append(GoldLabel(report_id=rid, labels=labels, method="adjudicated"))
        Annotation.objects.bulk_create(annotations, batch_size=5000)
        GoldLabel.objects.bulk_create(golds, batch_size=5000)
    t_reads = time.perf_counter() - t0
    return {"seed_reports_s": round(t_reports, 1), "seed_predictions_s": round(t_predictions, 1), "seed_reads_gold_s": round(t_reads, 1),
            "annotations": len(annotations), "predictions": len(ids) * len(sources)}


def timed(fn, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(pystats.median(times), 1), "max_ms": round(max(times), 1), "min_ms": round(min(times), 1), "n": repeat}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--gold", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000, help="must match the page's (1000) for warm figures")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup_django(args.database_url)

    import os

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from quality.statistics import statistics_cache_clear, statistics_data_stamp, statistics_get

    seeded = seed(n_reports=args.reports, n_gold=args.gold, n_readers=args.readers, n_models=args.models)
    print("seeded:", seeded, flush=True)
    statistics_cache_clear()
    cold = {}
    for mapping in ("full", "u-ones", "u-zeros"):
        t0 = time.perf_counter()
        stats = statistics_get(mapping=mapping, n_resamples=args.resamples)
        cold[mapping] = {"wall_s": round(time.perf_counter() - t0, 2), "compute_s": stats["compute_seconds"]}
        print(f"cold {mapping}: {cold[mapping]}", flush=True)
    assert stats["counts"]["gold_reports"] == args.gold, stats["counts"]

    settings.ALLOWED_HOSTS.append("testserver")  # the test Client's host (no setup_test_environment: it slows rendering)
    admin, reader = (get_user_model().objects.get(username=u) for u in ("boss", "reader00"))
    admin_client, reader_client = Client(), Client()
    admin_client.force_login(admin)
    reader_client.force_login(reader)
    url = reverse("statistics:dashboard")

    def page(client: Client, query: str = "") -> None:
        response = client.get(url + query)
        assert response.status_code == 200, response.status_code

    warm = {
        "stamp_query": timed(statistics_data_stamp, args.repeat),
        "page_admin_full": timed(lambda: page(admin_client), args.repeat),
        "page_admin_u_ones": timed(lambda: page(admin_client, "?mapping=u-ones"), args.repeat),
        "page_reader_full": timed(lambda: page(reader_client), args.repeat),
        "csv_confusion_admin": timed(lambda: admin_client.get(reverse("statistics:table_csv", args=["confusion"])), args.repeat),
    }
    size_kb = len(admin_client.get(url).content) / 1024
    for k, v in warm.items():
        print(f"warm {k}: {v}", flush=True)
    result = {
        "benchmark": "statistics dashboard",
        "database": connection.vendor,
        "reports": args.reports, "gold_labels": args.gold, "readers": args.readers, "model_versions": args.models,
        "resamples": args.resamples,
        **seeded,
        "cold_compute": cold,
        "warm": warm,
        "page_kb": round(size_kb, 1),
        "target": "warm page < 500 ms",
        "machine": {**machine_info(), "loadavg": list(os.getloadavg())},
        "command": "DJANGO_ALLOW_ASYNC_UNSAFE=1 .venv/bin/python bench/bench_dashboard.py " + " ".join(sys.argv[1:]),
    }
    suffix = "" if connection.vendor == "sqlite" else f"_{connection.vendor}"
    out = RESULTS_DIR / f"dashboard{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
