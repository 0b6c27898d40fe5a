"""Import and export at scale: 200,000 reports of typical length.

    .venv/bin/python bench/bench_import_export.py [--n 200000] [--database-url postgres://...]

Measures `report_import` (validation + bulk write, no labelling) and the gold
CSV export of the same number of rows. Prints and saves
bench/results/import_export[_postgres].json.
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
from bench._django import RESULTS_DIR, machine_info, setup_django  # noqa: E402


def write_reports_csv(path: Path, n: int, seed: int = 0) -> float:
    """Synthetic reports composed from the demo reports' sentences (~0.5-1.5 KB each)."""
    demo = Path(__file__).resolve().parent.parent / "demo" / "reports.csv"
    with open(demo, newline="", encoding="utf-8") as fh:
        texts = [row["Reports"] for row in csv.DictReader(fh)]
    rng = random.Random(seed)
    total = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "patient_id", "study_date", "Reports"])
        for i in range(n):
            text = f"{rng.choice(texts)}\n(Study {i}.)"
            total += len(text)
            writer.writerow([f"B{i:07d}", f"P{i // 3:06d}", "2024-01-01", text])
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    var_dir = setup_django(args.database_url)

    from django.db import connection

    from labeling.models import GoldLabel, Report
    from labeling.observations import OBSERVATION_NAMES
    from labeling.services.exports import gold_label_set_export
    from labeling.services.report_import import report_import

    csv_path = var_dir / "reports.csv"
    mean_chars = write_reports_csv(csv_path, args.n)
    t0 = time.perf_counter()
    result = report_import(path=csv_path)
    import_s = time.perf_counter() - t0
    assert result.ok, result.errors[:5]
    t0 = time.perf_counter()
    again = report_import(path=csv_path)
    reimport_s = time.perf_counter() - t0
    assert again.ok and not again.created_ids

    values = ["positive", "negative", "uncertain", "blank"]
    rng = random.Random(1)
    ids = list(Report.objects.values_list("id", flat=True))
    GoldLabel.objects.bulk_create(
        (GoldLabel(report_id=i, labels={o: rng.choice(values) for o in OBSERVATION_NAMES}, method="agreement") for i in ids),
        batch_size=5000,
    )
    out = var_dir / "gold.csv"
    t0 = time.perf_counter()
    rows = 0
    with open(out, "w", encoding="utf-8", newline="") as fh:
        for chunk in gold_label_set_export(fmt="csv"):
            fh.write(chunk)
            rows += 1
    export_s = time.perf_counter() - t0

    figures = {
        "benchmark": "import_export",
        "database": connection.vendor,
        "reports": args.n,
        "mean_report_chars": round(mean_chars),
        "import_seconds": round(import_s, 2),
        "import_reports_per_s": round(args.n / import_s),
        "reimport_unchanged_seconds": round(reimport_s, 2),
        "gold_csv_export_seconds": round(export_s, 2),
        "gold_csv_rows_per_s": round((rows - 1) / export_s),
        "gold_csv_bytes": out.stat().st_size,
        **machine_info(),
    }
    print(json.dumps(figures, indent=2))
    suffix = "" if connection.vendor == "sqlite" else f"_{connection.vendor}"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"import_export{suffix}.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
