"""Quality of the rule labeler on the Open-i development set (positive-only reference).

Usage (from the repository root):
    .venv/bin/python bench/eval_rules_openi.py [--data DIR] [--section auto|impression|full]

Reads ``reports.csv`` and ``labels.csv`` from ``../shared/data/openi-dev``
(relative to the repository root) unless --data is given; the data's licence
forbids copying it into the repository, so only scores are written:
``bench/results/rules_openi.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labeling.chexpert_csv import read_label_file  # noqa: E402
from labeling.observations import OBSERVATION_NAMES  # noqa: E402
from labeling.rules import RULES_VERSION, label_reports  # noqa: E402
from quality.metrics import format_positive_only_table, positive_only_scores  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "openi-dev"
RESULT = REPO / "bench" / "results" / "rules_openi.json"


def load(data: Path) -> tuple[list[str], list[str], list[dict[str, str]]]:
    reports, labels = data / "reports.csv", data / "labels.csv"
    if not reports.is_file() or not labels.is_file():
        sys.exit(f"error: Open-i dev data not found in {data} (expected reports.csv and labels.csv); "
                 "pass --data DIR")
    with open(reports, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    gold_by_id = read_label_file(labels)
    ids = [r["id"] for r in rows if r["id"] in gold_by_id]
    texts = {r["id"]: r["Reports"] for r in rows}
    return ids, [texts[i] for i in ids], [gold_by_id[i] for i in ids]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--section", default="auto", choices=["auto", "impression", "full"])
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)

    ids, texts, gold = load(args.data)
    t0 = time.perf_counter()
    results = label_reports(texts, section=args.section)
    elapsed = time.perf_counter() - t0
    pred = [r.labels for r in results]

    pos = positive_only_scores(gold, pred, count_uncertain_as_positive=False)
    pou = positive_only_scores(gold, pred, count_uncertain_as_positive=True)
    findings = [n for n in OBSERVATION_NAMES if n != "No Finding"]
    pos13 = positive_only_scores(gold, pred, False, observations=findings)
    pou13 = positive_only_scores(gold, pred, True, observations=findings)

    print(f"rule labeler {RULES_VERSION}: {len(texts)} Open-i dev reports, section={args.section}, "
          f"{elapsed:.2f}s")
    print(format_positive_only_table(pos, pou, titles=["positive", "positive or uncertain"]))
    print(f"micro without No Finding: positive F1 {pos13.micro.f1:.3f}, positive-or-uncertain F1 "
          f"{pou13.micro.f1:.3f}")

    result = {
        "dataset": "openi-dev",
        "n_reports": len(texts),
        "section": args.section,
        "rules_version": RULES_VERSION,
        "python": platform.python_version(),
        "seconds": round(elapsed, 3),
        "micro_f1_positive": pos.micro.f1,
        "micro_f1_positive_or_uncertain": pou.micro.f1,
        "micro_f1_positive_without_no_finding": pos13.micro.f1,
        "micro_f1_positive_or_uncertain_without_no_finding": pou13.micro.f1,
        "positive": pos.as_dict(),
        "positive_or_uncertain": pou.as_dict(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
