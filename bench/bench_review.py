"""Review page and read submission at scale: 200,000 reports, 10 readers, 50,000 annotations.

    .venv/bin/python bench/bench_review.py [--reports 200000] [--iterations 300]
    .venv/bin/python bench/bench_review.py --database-url postgres://postgres@127.0.0.1:5432/chexgold_bench_review

Server time through Django's test Client in-process (no network): GET of the
review page, and POST of a read (which validates, saves, tries auto-gold and
assigns the reader's next report before redirecting). The queue order is the
default (disagreement first) with rule labels on every report and an active
model's labels on a quarter of them. Prints and saves
bench/results/review.json (SQLite) or review_postgresql.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import RESULTS_DIR, latency_summary, machine_info, setup_django  # noqa: E402

BATCH = 5000


def build(n_reports: int, n_readers: int, n_annotations: int, seed: int = 0) -> dict[str, float]:
    from django.db import transaction
    from django.utils import timezone

    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from labeling.models import Annotation, MachinePrediction, ModelVersion, Report
    from labeling.observations import OBSERVATION_NAMES, blank_labels
    from labeling.report_files import text_sha256
    from labeling.services.report_import import _sections_for_storage

    demo = Path(__file__).resolve().parent.parent / "demo" / "reports.csv"
    with open(demo, newline="", encoding="utf-8") as fh:
        texts = [row["Reports"] for row in csv.DictReader(fh)]
    sections = [_sections_for_storage(t) for t in texts]
    rng = random.Random(seed)
    values = ["positive", "negative", "uncertain", "blank"]
    t0 = time.perf_counter()
    for start in range(0, n_reports, BATCH):
        rows = []
        for i in range(start, min(n_reports, start + BATCH)):
            j = rng.randrange(len(texts))
            text = f"{texts[j]}\n(Study {i}.)"
            rows.append(Report(external_id=f"B{i:07d}", patient_id=f"P{i // 3:06d}", text=text, text_sha256=text_sha256(text),
                               sections=sections[j]))
        with transaction.atomic():
            Report.objects.bulk_create(rows)
    ids = list(Report.objects.order_by("id").values_list("id", flat=True))
    model = ModelVersion.objects.create(name="bench-model", checkpoint_path="/nowhere", is_active=True)
    for start in range(0, len(ids), BATCH):
        preds = []
        for rid in ids[start : start + BATCH]:
            labels = {name: rng.choice(values) if rng.random() < 0.2 else "blank" for name in OBSERVATION_NAMES}
            evidence = {name: [{"start": 0, "end": 8, "phrase": "FINDINGS", "value": v, "sentence_start": 0, "sentence_end": 20,
                                "cue": None, "cue_start": None, "cue_end": None}] for name, v in labels.items() if v != "blank"}
            preds.append(MachinePrediction(report_id=rid, source="rules", source_version="bench", labels=labels, evidence=evidence))
            if rid % 4 == 0:
                model_labels = dict(labels)
                model_labels[rng.choice(OBSERVATION_NAMES)] = rng.choice(values)
                probs = {name: {"blank": round(rng.random(), 3), "positive": 0.1} for name in OBSERVATION_NAMES}
                preds.append(MachinePrediction(report_id=rid, source="model", source_version=model.name, model_version=model,
                                               labels=model_labels, probabilities=probs))
        with transaction.atomic():
            MachinePrediction.objects.bulk_create(preds)
    readers = [user_create_or_update(username=f"bench-reader{i}", password="bench-password-1", roles=[Role.READER])[0]
               for i in range(n_readers)]
    # k=2: the first n_annotations/2 reports each have two submitted reads by different readers.
    now = timezone.now()
    annotations = []
    for n in range(n_annotations):
        report_index, second = divmod(n, 2)
        reader = readers[(report_index + second) % n_readers]
        annotations.append(Annotation(report_id=ids[report_index], reader=reader, labels=blank_labels(), status="submitted",
                                      submitted_at=now, time_spent_seconds=15.0))
    for start in range(0, len(annotations), BATCH):
        with transaction.atomic():
            Annotation.objects.bulk_create(annotations[start : start + BATCH])
    return {"build_s": round(time.perf_counter() - t0, 1)}


def measure(iterations: int, n_readers: int) -> dict[str, object]:
    from django.test import Client

    from annotator.services import report_priorities_refresh
    from labeling.models import Report
    from labeling.observations import OBSERVATIONS

    t0 = time.perf_counter()
    report_priorities_refresh()  # one-off after the model changed (here: after the bulk load)
    refresh_s = time.perf_counter() - t0
    clients = []
    for i in range(n_readers):
        client = Client()
        assert client.login(username=f"bench-reader{i}", password="bench-password-1")
        clients.append(client)
    get_ms: list[float] = []
    post_ms: list[float] = []
    next_ms: list[float] = []
    form_values = {f"obs-{o.slug}": "blank" for o in OBSERVATIONS}
    form_values["obs-no_finding"] = "positive"
    locations: dict[int, str | None] = {}
    for i in range(iterations + 10):
        c = clients[i % n_readers]
        location = locations.get(id(c))
        if location is None:
            t = time.perf_counter()
            resp = c.post("/queue/next")
            next_ms.append((time.perf_counter() - t) * 1000)
            location = resp["Location"]
        t = time.perf_counter()
        page = c.get(location)
        g = (time.perf_counter() - t) * 1000
        assert page.status_code == 200, page.status_code
        report_id = int(location.strip("/").split("/")[-1])
        t = time.perf_counter()
        resp = c.post(f"/review/{report_id}/submit", {**form_values, "version": "0", "time_spent": "12"})
        p = (time.perf_counter() - t) * 1000
        assert resp.status_code == 302, resp.content[:500]
        locations[id(c)] = resp["Location"] if "/review/" in resp["Location"] else None
        if i >= 10:  # warm-up
            get_ms.append(g)
            post_ms.append(p)
    return {
        "review_get": latency_summary(get_ms),
        "submit_post": latency_summary(post_ms),
        "queue_next_post": latency_summary(next_ms),
        "priority_refresh_s": round(refresh_s, 1),
        "reports": Report.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--annotations", type=int, default=50_000)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    built = build(args.reports, args.readers, args.annotations)
    measured = measure(args.iterations, args.readers)
    from labeling.models import Annotation

    result = {
        "benchmark": "review page GET and read submit (server time, Django test Client in-process)",
        "database": connection.vendor,
        "reports": args.reports, "readers": args.readers, "annotations_before": args.annotations,
        "annotations_after": Annotation.objects.count(),
        **built,
        **measured,
        "machine": machine_info(),
        "command": " ".join(["bench/bench_review.py", *sys.argv[1:]]),
    }
    print(json.dumps(result, indent=2))
    name = "review.json" if connection.vendor == "sqlite" else f"review_{connection.vendor}.json"
    if args.reports == 200_000:
        (RESULTS_DIR / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
