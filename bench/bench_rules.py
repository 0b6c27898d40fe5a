"""Speed of the rule labeler: one core against a baseline, then 1..N worker processes.

Usage (from the repository root):
    .venv/bin/python bench/bench_rules.py [--rounds 3] [--repeat 3] [--workers 1,2]
        [--baseline-ref 4f09119] [--data DIR]

Labels the Open-i dev reports (``shared/data/openi-dev/reports.csv`` next to
the checkout or above it) when present, else synthetic reports built from
sentences written for this script.

1. One core: the current labeler against the baseline (``labeling/`` of
   ``--baseline-ref``, default the last commit before the #19 speed work,
   extracted with ``git archive`` into a temporary directory), each in its own
   subprocess, alternating ``--rounds`` times so both see the same machine
   load; the figure is the best of ``--repeat`` passes per round (best round
   kept, plus the median). Every pass is *cold*: the labeler's sentence and
   word caches are emptied before it, so repeats within the data set count but
   nothing is carried over from the previous pass.
2. Workers: ``RulePool(n).label_json`` (what the import and ``label_reports``
   use) over the reports repeated ``--pool-copies`` times, pool started and
   warmed before timing; parent and children CPU seconds are reported.

Prints and writes ``bench/results/rules_speed.json``; quote ratios of the same
run (the machine is shared). Timing lives here, never in a test assertion.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "bench" / "results" / "rules_speed.json"
# The last commit of main before the #19 rule-labeler work (golden test first).
BASELINE_REF = "4f09119"

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


def default_data() -> Path:
    for parent in REPO.parents:
        candidate = parent / "shared" / "data" / "openi-dev"
        if (candidate / "reports.csv").is_file():
            return candidate
    return REPO.parent / "shared" / "data" / "openi-dev"


def load_reports(data: Path) -> tuple[list[str], str]:
    path = data / "reports.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            return [row["Reports"] for row in csv.DictReader(fh)], "openi-dev"
    return synthetic_reports(3000), "synthetic"


# --------------------------------------------------------------------------- children


def _import_labeler(root: str):
    sys.path.insert(0, root)
    from labeling.rules import label_report, labeler
    from labeling.rules.lexicon import get_lexicon

    assert Path(labeler.__file__).resolve().is_relative_to(Path(root).resolve()), labeler.__file__
    get_lexicon()
    return label_report, getattr(labeler, "clear_caches", lambda: None)


def child_single(root: str, data: Path, repeat: int) -> dict[str, object]:
    label_report, clear_caches = _import_labeler(root)
    texts, _ = load_reports(data)
    for text in texts[:50]:
        label_report(text)
    passes, cpu = [], []
    for _ in range(repeat):
        clear_caches()
        c0, t0 = time.process_time(), time.perf_counter()
        for text in texts:
            label_report(text)
        passes.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"n": len(texts), "passes_s": passes, "cpu_s": cpu}


def child_pool(root: str, data: Path, repeat: int, workers: int, copies: int) -> dict[str, object]:
    sys.path.insert(0, root)
    from labeling.rules.labeler import clear_caches
    from labeling.rules.pool import RulePool

    texts, _ = load_reports(data)
    texts = texts * copies
    t0 = time.perf_counter()
    with RulePool(workers) as pool:
        pool.label_json(texts[: 2 * 500 * workers])  # start and warm the workers
        startup = time.perf_counter() - t0
        passes = []
        for _ in range(repeat):
            clear_caches()  # this process's caches (workers keep theirs: steady state)
            t0 = time.perf_counter()
            pool.label_json(texts)
            passes.append(time.perf_counter() - t0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "n": len(texts), "passes_s": passes, "startup_s": startup,
        "cpu_parent_s": own.ru_utime + own.ru_stime, "cpu_children_s": children.ru_utime + children.ru_stime,
    }


def _run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args], check=True, capture_output=True, text=True, cwd=REPO
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline/current subprocess runs")
    parser.add_argument("--repeat", type=int, default=3, help="timed cold passes per run (best kept)")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="git ref whose labeling/ is the baseline")
    parser.add_argument("--workers", default="1,2", help="comma-separated pool sizes to time ('' to skip)")
    parser.add_argument("--pool-copies", type=int, default=4, help="the reports repeated this many times for the pool")
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-pool", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    data = args.data or default_data()
    if args.child and args.child_pool:
        print(json.dumps(child_pool(args.child, data, args.repeat, args.child_pool, args.pool_copies)))
        return 0
    if args.child:
        print(json.dumps(child_single(args.child, data, args.repeat)))
        return 0

    texts, source = load_reports(data)
    load_before = os.getloadavg()
    sys.path.insert(0, str(REPO))
    from labeling.rules import RULES_VERSION

    with tempfile.TemporaryDirectory(prefix="bench_rules_") as baseline_root:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline_ref, "labeling"],
                                 check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", baseline_root], input=archive.stdout, check=True)
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
        for _ in range(args.rounds):
            for name, root in (("baseline", baseline_root), ("current", str(REPO))):
                runs[name].append(_run_child(["--child", root, "--repeat", str(args.repeat), "--data", str(data)]))
                print(f"{name}: {len(texts) / min(runs[name][-1]['passes_s']):.0f} reports/s", file=sys.stderr)

    def rates(name: str) -> list[float]:
        return [len(texts) / min(r["passes_s"]) for r in runs[name]]

    single = {
        name: {
            "reports_per_s_best": round(max(rates(name)), 1),
            "reports_per_s_median_of_rounds": round(statistics.median(rates(name)), 1),
            "per_round": [round(x, 1) for x in rates(name)],
            "cpu_s_per_pass": round(statistics.median(c for r in runs[name] for c in r["cpu_s"]), 3),
            # reports per CPU second of the pass: what one core does when it is not shared
            "reports_per_cpu_s_best": round(
                len(texts) / min(c for r in runs[name] for c in r["cpu_s"]), 1
            ),
        }
        for name in runs
    }
    ratios = [c / b for c, b in zip(rates("current"), rates("baseline"), strict=True)]
    pool: dict[str, object] = {}
    for w in [int(x) for x in args.workers.split(",") if x.strip()]:
        r = _run_child(["--child", str(REPO), "--child-pool", str(w), "--repeat", str(args.repeat),
                        "--pool-copies", str(args.pool_copies), "--data", str(data)])
        best = min(r["passes_s"])
        pool[str(w)] = {
            "reports": r["n"], "reports_per_s": round(int(r["n"]) / best, 1),
            "startup_s": round(float(r["startup_s"]), 2),
            "cpu_parent_s": round(float(r["cpu_parent_s"]), 2), "cpu_children_s": round(float(r["cpu_children_s"]), 2),
        }
        print(f"pool {w}: {pool[str(w)]}", file=sys.stderr)
    result = {
        "command": "python bench/bench_rules.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rules_version": RULES_VERSION,
        "source": source,
        "n": len(texts),
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
        "baseline_ref": args.baseline_ref,
        "rounds": args.rounds,
        "repeat": args.repeat,
        "cores": 1,
        "machine_cores": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        # the current labeler, one core, cold caches (kept for older readers of this file)
        "reports_per_s": single["current"]["reports_per_s_best"],
        "single_core": single,
        "speedup_vs_baseline_per_round": [round(x, 2) for x in ratios],
        "speedup_vs_baseline_median": round(statistics.median(ratios), 2),
        "pool_label_json": pool,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(json.dumps(result, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
