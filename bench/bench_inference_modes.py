"""CPU inference modes of a model: speed against fp32, and what each costs in labels.

Modes (each through `Predictor.predict`: section selection, tokenisation,
length-sorted batches, dynamic padding):
- fp32;
- bf16: bf16 autocast, only where the CPU computes bf16 natively
  (`cpu_bf16_is_native`; emulated bf16 is several times slower than fp32);
- dynamic-int8: `Predictor(inference_mode="dynamic-int8")`, the Linear layers
  quantised with torch.ao.quantization.quantize_dynamic;
- onnx-fp32 / onnx-int8: the encoder and heads exported with torch.onnx.export
  and run by ONNX Runtime (the int8 one quantised by
  onnxruntime.quantization.quantize_dynamic), when onnxruntime, onnx and
  onnxscript can be imported (they are not in requirements.txt; e.g.
  `pip install --target DIR onnxruntime==1.31.1 onnx==1.23.2 onnxscript==0.7.2 ...`
  and PYTHONPATH=DIR).

Speed: the modes run interleaved, round after round (the order rotating), on
the same reports, so a machine shared with other jobs slows them alike; each
mode's speed-up is the median over rounds of fp32's time / its time in the
same round. Labels: every mode labels every report of the Open-i dev set
(../shared/data/openi-dev, read in place, never copied); its labels are
compared with fp32's (cells and whole reports that agree) and scored against
the human labels (micro F1, positive or uncertain counted as positive, on all
reports and on the held-out 20 % split of bench_gold_campaign.py, which that
benchmark's models never trained or selected on).

The model: `--checkpoint DIR` (repeatable; speed is measured on the first),
or `--checkpoint store:NAME` (a model version's checkpoint_path in the model
store, fetched through ml_worker.model_store into the configured cache, so
object storage works as in the app), or the active model version of the
configured database. Prints a summary and
writes bench/results/inference_modes.json. Measures only; asserts nothing.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_inference_modes.py --checkpoint DIR [--rounds 5] [--reports 600]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from labeling.chexpert_csv import read_label_file  # noqa: E402
from labeling.observations import OBSERVATION_NAMES, LabelDict  # noqa: E402
from ml_worker.ml.checkpoints import load_checkpoint  # noqa: E402
from ml_worker.ml.predict import Predictor, cpu_bf16_is_native  # noqa: E402
from quality.metrics import positive_only_scores  # noqa: E402

OPENI = REPO_ROOT.parent / "shared" / "data" / "openi-dev"
EXACT_ENOUGH = 0.995  # label agreement with fp32 (cells) a mode needs to be offered


def held_out(report_id: str) -> bool:
    """bench_gold_campaign.py's evaluation split (20 %): never trained or selected on there."""
    return int.from_bytes(hashlib.sha256(f"fidelity:{report_id}".encode()).digest()[:8], "big") / 2**64 < 0.2


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")
    import django

    django.setup()


def checkpoint_local(checkpoint: str) -> str:
    """A local directory for `checkpoint`: a directory as given, or a `store:NAME` model-store
    checkpoint fetched (and cached) by ml_worker.model_store, as the app's workers do."""
    if not checkpoint.startswith("store:"):
        return checkpoint
    _django_setup()
    from ml_worker.model_store import checkpoint_local_path

    try:
        return str(checkpoint_local_path(checkpoint))
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"--checkpoint {checkpoint}: {exc}")


def active_checkpoint() -> str:
    _django_setup()
    from labeling.selectors import active_model_version_get

    version = active_model_version_get()
    if version is None:
        sys.exit("no active model version in the configured database; pass --checkpoint DIR")
    return version.checkpoint_path


class OrtModel:
    """An ONNX Runtime session that answers like ChexbertModel.forward (logits per head)."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        outputs = self.session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        return [torch.from_numpy(o) for o in outputs]

    def to(self, device: object) -> OrtModel:
        return self

    def eval(self) -> OrtModel:
        return self


def onnx_export(checkpoint: str, directory: Path) -> tuple[Path, Path]:
    """(fp32 model, int8 model) exported from the checkpoint's encoder and heads."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = load_checkpoint(checkpoint).model.eval()
    fp32, int8 = directory / "model.onnx", directory / "model-int8.onnx"
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    batch, seq = torch.export.Dim("batch", max=4096), torch.export.Dim("seq", max=512)
    torch.onnx.export(
        model, (ids, mask), str(fp32), dynamo=True, external_data=False,
        input_names=["input_ids", "attention_mask"], output_names=[f"head_{i}" for i in range(len(OBSERVATION_NAMES))],
        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
    )
    # The exporter's recorded intermediate shapes trip the quantiser's shape
    # inference ("Inferred shape and existing shape differ"); it infers them anew.
    import onnx

    graph = onnx.load(str(fp32))
    del graph.graph.value_info[:]
    bare = directory / "model-bare.onnx"
    onnx.save(graph, str(bare))
    quantize_dynamic(str(bare), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def predictors(checkpoint: str, modes: list[str], *, batch_size: int, threads: int, work: Path) -> tuple[dict[str, Predictor], dict[str, str]]:
    """Predictor per mode that can run here, and why the others cannot."""
    built: dict[str, Predictor] = {}
    skipped: dict[str, str] = {}
    onnx_paths: tuple[Path, Path] | None = None
    for mode in modes:
        if mode in ("fp32", "dynamic-int8"):
            built[mode] = Predictor.from_checkpoint(checkpoint, device="cpu", batch_size=batch_size, inference_mode=mode)
        elif mode == "bf16":
            if not cpu_bf16_is_native():
                skipped[mode] = "this CPU has no native bf16 (emulated bf16 is several times slower than fp32)"
                continue
            built[mode] = Predictor.from_checkpoint(checkpoint, device="cpu", batch_size=batch_size, inference_mode="bf16")
        elif mode in ("onnx-fp32", "onnx-int8"):
            try:
                if onnx_paths is None:
                    onnx_paths = onnx_export(checkpoint, work)
            except ImportError as exc:
                skipped[mode] = f"onnxruntime/onnx/onnxscript not importable ({exc})"
                continue
            predictor = Predictor.from_checkpoint(checkpoint, device="cpu", batch_size=batch_size)
            predictor.model = OrtModel(onnx_paths[0] if mode == "onnx-fp32" else onnx_paths[1], threads)  # type: ignore[assignment]
            built[mode] = predictor
        else:
            sys.exit(f"unknown mode {mode}")
    return built, skipped


def label_comparison(reference: list[LabelDict], labels: list[LabelDict]) -> dict[str, Any]:
    cells = sum(r[n] == x[n] for r, x in zip(reference, labels, strict=True) for n in OBSERVATION_NAMES)
    reports = sum(all(r[n] == x[n] for n in OBSERVATION_NAMES) for r, x in zip(reference, labels, strict=True))
    per_observation = {
        n: round(sum(r[n] == x[n] for r, x in zip(reference, labels, strict=True)) / len(labels), 4) for n in OBSERVATION_NAMES
    }
    return {
        "cell_agreement": round(cells / (len(labels) * len(OBSERVATION_NAMES)), 5),
        "report_agreement": round(reports / len(labels), 4),
        "lowest_observation_agreement": min(per_observation.items(), key=lambda kv: kv[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="checkpoint directory or store:NAME (repeatable; default: the active model)")
    parser.add_argument("--modes", default="fp32,bf16,dynamic-int8,onnx-fp32,onnx-int8")
    parser.add_argument("--reports", type=int, default=600, help="reports per timed pass")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes of every mode, interleaved")
    parser.add_argument("--batch-size", type=int, default=32, help="as the app's workers (ml_worker.predictors)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data", type=Path, default=OPENI)
    parser.add_argument("--limit", type=int, default=None, help="label only the first N dev reports (smoke runs)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "inference_modes.json")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    if not (args.data / "reports.csv").is_file():
        sys.exit(f"{args.data} is not here; this benchmark needs the Open-i development set")
    checkpoints = args.checkpoint or [active_checkpoint()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if modes[0] != "fp32":
        modes = ["fp32", *[m for m in modes if m != "fp32"]]
    load_at_start = [round(x, 2) for x in os.getloadavg()]

    with open(args.data / "reports.csv", newline="", encoding="utf-8") as fh:
        rows = [(r["id"], r["Reports"]) for r in csv.DictReader(fh)][: args.limit]
    human_by_id = read_label_file(args.data / "labels.csv")
    ids, texts = [i for i, _ in rows], [t for _, t in rows]
    human = [human_by_id[i] for i in ids]
    held = [k for k, i in enumerate(ids) if held_out(i)]
    timed_texts = texts[: args.reports]
    print(f"{len(texts)} dev reports ({len(held)} held out); timing {len(timed_texts)} per pass, {args.rounds} rounds, "
          f"batch {args.batch_size}, {args.threads} threads; torch {torch.__version__}, "
          f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_bf16_is_native()}; load {load_at_start}")

    results: list[dict[str, Any]] = []
    speed: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="inference-modes-") as tmp:
        for c_index, named in enumerate(checkpoints):
            checkpoint = checkpoint_local(named)
            work = Path(tmp) / str(c_index)
            work.mkdir()
            built, skipped = predictors(checkpoint, modes, batch_size=args.batch_size, threads=args.threads, work=work)
            for mode, why in skipped.items():
                print(f"  {mode}: skipped: {why}")
            labels: dict[str, list[LabelDict]] = {}
            for mode, predictor in built.items():
                t0 = time.perf_counter()
                labels[mode] = [p.labels for p in predictor.predict(texts)]
                print(f"  {Path(checkpoint).name} {mode}: labelled {len(texts)} in {time.perf_counter() - t0:.1f} s")
            rows_out = []
            for mode in built:
                micro_all = positive_only_scores(human, labels[mode], True).micro.f1
                micro_held = positive_only_scores([human[k] for k in held], [labels[mode][k] for k in held], True).micro.f1
                row: dict[str, Any] = {"mode": mode, "vs_fp32": label_comparison(labels["fp32"], labels[mode]),
                       "micro_f1_all": round(micro_all, 4), "micro_f1_held_out": round(micro_held, 4)}
                rows_out.append(row)
                print(f"  {Path(checkpoint).name} {mode:>12}: cells agreeing with fp32 {row['vs_fp32']['cell_agreement']:.4f}, "
                      f"reports {row['vs_fp32']['report_agreement']:.4f}; micro F1 all {micro_all:.4f}, held out {micro_held:.4f}")
            results.append({"checkpoint": named, "local_path": checkpoint, "modes": rows_out})
            if c_index == 0:
                speed = timed_rounds(built, timed_texts, args.rounds)

    summary = []
    for mode, s in speed.items():
        agreement = min(
            next(r for r in c["modes"] if r["mode"] == mode)["vs_fp32"]["cell_agreement"] for c in results
        )
        summary.append({**s, "mode": mode, "min_cell_agreement_with_fp32": agreement,
                        "exact_enough": agreement >= EXACT_ENOUGH, "faster": s["speedup_vs_fp32_median"] > 1.0})
        print(f"{mode:>12}: {s['reports_per_s_median']:7.1f} reports/s, x{s['speedup_vs_fp32_median']:.2f} vs fp32 "
              f"(rounds {s['speedup_vs_fp32_rounds']}); cells agreeing with fp32 >= {agreement:.4f}")
    out = {
        "benchmark": "bench/bench_inference_modes.py",
        "command": " ".join(["bench/bench_inference_modes.py", *sys.argv[1:]]),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "texts": f"openi-dev ({len(texts)} reports; {len(held)} in bench_gold_campaign's held-out split)",
        "timed_reports": len(timed_texts), "rounds": args.rounds, "batch_size": args.batch_size,
        "exact_enough_threshold": EXACT_ENOUGH,
        "machine": {
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": args.threads,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": cpu_bf16_is_native(),
            "torch": torch.__version__, "onnxruntime": _version("onnxruntime"), "python": platform.python_version(),
            # Other processes share these cores; the interleaving keeps the ratios fair.
            "load_average_at_start": load_at_start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "skipped": skipped,
        "speed": summary,
        "labels": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")


def timed_rounds(built: dict[str, Predictor], texts: list[str], rounds: int) -> dict[str, dict[str, Any]]:
    """Seconds per pass of every mode, interleaved; speed-ups against fp32 of the same round."""
    modes = list(built)
    for predictor in built.values():  # warm-up (oneDNN kernels, ORT arenas)
        predictor.predict(texts[:64])
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(rounds):
        order = modes[r % len(modes):] + modes[: r % len(modes)]
        for mode in order:
            seconds[mode].append(_seconds(partial(built[mode].predict, texts)))
        print(f"  round {r + 1}: " + ", ".join(f"{m} {seconds[m][-1]:.2f} s" for m in modes))
    result = {}
    for mode in modes:
        ratios = [f / s for f, s in zip(seconds["fp32"], seconds[mode], strict=True)]
        result[mode] = {
            "seconds": [round(s, 3) for s in seconds[mode]],
            "reports_per_s_median": round(len(texts) / statistics.median(seconds[mode]), 1),
            "speedup_vs_fp32_median": round(statistics.median(ratios), 3),
            "speedup_vs_fp32_rounds": [round(x, 2) for x in ratios],
        }
    return result


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # not installed
        return None


if __name__ == "__main__":
    main()
