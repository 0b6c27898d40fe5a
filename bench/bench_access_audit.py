"""Cost of the report-access audit on the review page.

    .venv/bin/python bench/bench_access_audit.py [--reports 20000] [--audit-rows 500000] [--iterations 400]

A SQLite database with `--reports` reports (demo texts, rule labels) and an
audit table pre-filled with `--audit-rows` rows (a busy year), one reader with a
reserved report. Measures, in-process through Django's test Client, the review
page GET with the audit on and with `report_access_record` replaced by a no-op
(alternating, so both see the same machine load), and the audit insert alone.
Prints and saves bench/results/access_audit.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import RESULTS_DIR, latency_summary, machine_info, percentile, setup_django  # noqa: E402

BATCH = 5000


def build(n_reports: int, n_audit: int) -> None:
    import csv

    from django.db import transaction
    from django.utils import timezone

    from labeling.models import MachinePrediction, Report
    from labeling.observations import OBSERVATION_NAMES
    from labeling.report_files import text_sha256
    from labeling.services.report_import import _sections_for_storage
    from privacy.models import ReportAccess

    demo = Path(__file__).resolve().parent.parent / "demo" / "reports.csv"
    with open(demo, newline="", encoding="utf-8") as fh:
        texts = [row["Reports"] for row in csv.DictReader(fh)]
    rng = random.Random(0)
    for start in range(0, n_reports, BATCH):
        rows = []
        for i in range(start, min(n_reports, start + BATCH)):
            text = f"{texts[rng.randrange(len(texts))]}\n(Study {i}.)"
            rows.append(Report(external_id=f"B{i:07d}", text=text, text_sha256=text_sha256(text), sections=_sections_for_storage(text)))
        with transaction.atomic():
            Report.objects.bulk_create(rows)
    ids = list(Report.objects.values_list("id", flat=True))
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            MachinePrediction.objects.bulk_create([
                MachinePrediction(report_id=rid, source="rules", source_version="bench",
                                  labels={n: rng.choice(["positive", "negative", "blank"]) for n in OBSERVATION_NAMES})
                for rid in ids[start : start + BATCH]])
    now = timezone.now()
    for start in range(0, n_audit, BATCH):
        with transaction.atomic():
            ReportAccess.objects.bulk_create([
                ReportAccess(at=now, user_id=1 + i % 50, username=f"reader{i % 50}", channel="annotator:review", method="GET",
                             path=f"/review/{ids[i % len(ids)]}/", ip="10.0.0.1", report_id=ids[i % len(ids)], report_count=1,
                             report_ids=str(ids[i % len(ids)]))
                for i in range(start, min(n_audit, start + BATCH))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--audit-rows", type=int, default=500_000)
    parser.add_argument("--iterations", type=int, default=400)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.test import Client

    import annotator.views as review_views
    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from annotator import services
    from privacy.models import ReportAccess
    from privacy.services.access_audit import report_access_record

    settings.ALLOWED_HOSTS = ["*"]
    t0 = time.perf_counter()
    build(args.reports, args.audit_rows)
    build_s = time.perf_counter() - t0
    reader, _ = user_create_or_update(username="bench-reader", password="correct-horse-42", roles=[Role.READER])
    report = services.next_report_assign(reader=reader)
    assert report is not None, "build() seeded reports for this reader"
    client = Client()
    client.force_login(reader)
    url = f"/review/{report.id}/"
    for _ in range(20):  # warm caches
        client.get(url)

    def noop(**kwargs: object) -> None:
        return None

    on: list[float] = []
    off: list[float] = []
    for i in range(args.iterations * 2):
        audit = i % 2 == 0
        review_views.report_access_record = report_access_record if audit else noop  # type: ignore[assignment]
        start = time.perf_counter()
        response = client.get(url)
        (on if audit else off).append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    review_views.report_access_record = report_access_record  # type: ignore[assignment]

    insert: list[float] = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        report_access_record(user=reader, report_ids=[report.id], channel="bench", request=None)
        insert.append((time.perf_counter() - start) * 1000)

    result = {
        "what": "review page GET with and without the report-access audit, and the audit insert alone (SQLite, in-process)",
        "command": "python bench/bench_access_audit.py " + " ".join(sys.argv[1:]),
        "reports": args.reports,
        "audit_rows_before": args.audit_rows,
        "audit_rows_after": ReportAccess.objects.count(),
        "build_seconds": round(build_s, 1),
        "review_page_with_audit": latency_summary(on, 3),
        "review_page_without_audit": latency_summary(off, 3),
        "p95_overhead_ms": round(percentile(on, 95) - percentile(off, 95), 3),
        "audit_insert": latency_summary(insert, 3),
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "access_audit.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
