"""Speed of the rule labeler on one core.

Usage (from the repository root):
    .venv/bin/python bench/bench_rules.py [--repeat N] [--data DIR]

Labels the Open-i dev reports (``../shared/data/openi-dev/reports.csv``) when
present, else synthetic reports built from sentences written for this script.
Prints and writes ``bench/results/rules_speed.json`` (reports/s, cores, n).
Timing lives here, never in a test assertion.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labeling.rules import RULES_VERSION, label_report  # noqa: E402
from labeling.rules.lexicon import get_lexicon  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "openi-dev"
RESULT = REPO / "bench" / "results" / "rules_speed.json"

# Written for this benchmark (not taken from any dataset).
SYNTHETIC_FINDINGS = [
    "The heart is normal in size.",
    "Mild cardiomegaly is unchanged.",
    "The mediastinum is within normal limits.",
    "There is no focal consolidation, pleural effusion or pneumothorax.",
    "Small left pleural effusion with adjacent atelectasis.",
    "Patchy airspace opacity in the right lower lobe may represent pneumonia.",
    "Right internal jugular catheter tip projects over the superior vena cava.",
    "Degenerative changes of the thoracic spine.",
    "No acute osseous abnormality.",
    "Calcified granuloma in the left upper lobe.",
    "Mild pulmonary vascular congestion without frank edema.",
    "A 1 cm nodule is seen in the right midlung.",
    "Healed left rib fractures.",
    "The lungs are hyperinflated, consistent with emphysema.",
]
SYNTHETIC_IMPRESSIONS = [
    "No acute cardiopulmonary abnormality.",
    "1. Small left effusion. 2. Stable cardiomegaly.",
    "Right lower lobe pneumonia cannot be excluded.",
    "Interval removal of the endotracheal tube. No pneumothorax.",
]


def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    reports = []
    for _ in range(n):
        findings = " ".join(rng.sample(SYNTHETIC_FINDINGS, rng.randint(4, 8)))
        reports.append(
            "INDICATION: Shortness of breath.\nCOMPARISON: None.\n"
            f"FINDINGS: {findings}\nIMPRESSION: {rng.choice(SYNTHETIC_IMPRESSIONS)}"
        )
    return reports


def load_reports(data: Path) -> tuple[list[str], str]:
    path = data / "reports.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            return [row["Reports"] for row in csv.DictReader(fh)], "openi-dev"
    return synthetic_reports(3000), "synthetic"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over all reports (best is kept)")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)

    texts, source = load_reports(args.data)
    t0 = time.perf_counter()
    get_lexicon()  # one-off compile, reported separately
    compile_s = time.perf_counter() - t0
    for text in texts[:50]:  # warm caches
        label_report(text)

    passes = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for text in texts:
            label_report(text)
        passes.append(time.perf_counter() - t0)
    best = min(passes)
    result = {
        "rules_version": RULES_VERSION,
        "source": source,
        "n": len(texts),
        "repeat": args.repeat,
        "cores": 1,
        "machine_cores": os.cpu_count(),
        "reports_per_s": round(len(texts) / best, 1),
        "reports_per_s_median": round(len(texts) / statistics.median(passes), 1),
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
        "lexicon_compile_s": round(compile_s, 4),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(json.dumps(result, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
