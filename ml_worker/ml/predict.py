"""Batched inference: reports in, CheXpert labels and class probabilities out.

Load a `Predictor` once per worker process (it holds the model) and call
`predict` with any number of texts. Texts are sorted by token length and cut
into batches padded to their own longest text (dynamic padding), then results
are put back in the caller's order.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from labeling.observations import OBSERVATIONS, LabelDict, classes_for

from .checkpoints import CheckpointManifest, LoadedModel, load_checkpoint
from .data import model_text, pad_batch, pad_token_id, tokenize
from .modeling import ChexbertModel, resolve_device


@dataclass(frozen=True)
class Prediction:
    labels: LabelDict  # observation name -> LabelValue value (the argmax class)
    probabilities: dict[str, dict[str, float]]  # observation -> class value -> softmax probability


def cpu_bf16_is_native() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX). Without
    it, bf16 autocast is emulated and much slower than fp32 (9.7 against 70
    reports/s measured on an AVX2-only AMD EPYC), so callers should not ask for
    `cpu_bf16` there."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


# How a Predictor computes on the CPU (bench/bench_inference_modes.py measures
# them against fp32: speed, and agreement of the labels):
# - "fp32": plain float32;
# - "bf16": bf16 autocast (fast only where `cpu_bf16_is_native`);
# - "dynamic-int8": the Linear layers (encoder and heads) with int8 weights and
#   activations quantised on the fly (torch.ao.quantization.quantize_dynamic);
# - "auto": "bf16" where the CPU computes bf16 natively, "fp32" elsewhere.
# On CUDA every mode computes as `cuda_bf16` says.
INFERENCE_MODES = ("auto", "fp32", "bf16", "dynamic-int8")


def resolve_inference_mode(mode: str) -> str:
    """The concrete CPU mode `mode` means on this machine ("auto" resolved)."""
    if mode not in INFERENCE_MODES:
        raise ValueError(f"inference_mode must be one of {INFERENCE_MODES}, got {mode!r}")
    if mode == "auto":
        return "bf16" if cpu_bf16_is_native() else "fp32"
    return mode


def quantize_dynamic_int8(model: ChexbertModel) -> ChexbertModel:
    """A CPU copy of `model` whose Linear layers hold int8 weights and quantise
    their inputs per batch. (PyTorch's eager quantisation API, deprecated in
    favour of torchao but present in the pinned torch; its warnings are hushed.)"""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(torchao|deprecated).*")
        quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)
    assert isinstance(quantized, ChexbertModel)  # a copy of the same module, Linear layers swapped
    return quantized


def autocast_context(device: torch.device, *, cuda_bf16: bool = True, cpu_bf16: bool = False):
    """bf16 autocast on CUDA (unless disabled) and, when asked, on CPU."""
    if device.type == "cuda" and cuda_bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# On CUDA, reports are processed in chunks of this many so that the CPU work
# (sectioning, tokenising, building result dicts) of one chunk overlaps the GPU
# work of the next. On CPU there is nothing to overlap: one chunk.
CUDA_CHUNK_SIZE = 8192


def chunked_head_probabilities(
    model: ChexbertModel,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    cuda_bf16: bool = True,
    cpu_bf16: bool = False,
    prepare: Callable[[str], str] | None = None,
    chunk_size: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[list[int], list[torch.Tensor]]]:
    """Yield ``(rows, probabilities)`` per chunk of texts: the indices into
    `texts` and, per head (CheXpert order), a CPU float32 tensor
    [len(rows), classes] of softmax probabilities in the order of `rows`.

    `prepare` maps a text to what the model reads (section selection); None
    means `texts` are already prepared. Texts are ordered by length (characters
    across chunks, tokens within a chunk) and batched with dynamic padding.
    Chunk *k* is yielded only after chunk *k+1* has been queued on the GPU, so
    the caller's work on it overlaps GPU compute. `on_batch(done, total)` is
    called after each batch is queued. The caller sets eval/train mode.
    """
    n = len(texts)
    if n == 0:
        return
    if chunk_size is None:
        chunk_size = CUDA_CHUNK_SIZE if device.type == "cuda" else n
    by_length = sorted(range(n), key=lambda i: len(texts[i])) if chunk_size < n else list(range(n))
    pad_id = pad_token_id(tokenizer)
    done = 0
    pending: tuple[list[int], list[torch.Tensor], torch.cuda.Event | None] | None = None
    with torch.inference_mode(), autocast_context(device, cuda_bf16=cuda_bf16, cpu_bf16=cpu_bf16):
        for chunk_start in range(0, n, chunk_size):
            rows = by_length[chunk_start : chunk_start + chunk_size]
            chunk_texts = [texts[i] for i in rows]
            if prepare is not None:
                chunk_texts = [prepare(t) for t in chunk_texts]
            sequences = tokenize(tokenizer, chunk_texts, max_length)
            order = sorted(range(len(rows)), key=lambda i: len(sequences[i]))
            outputs: list[list[torch.Tensor]] = []
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = pad_batch([sequences[i] for i in idx], pad_id)
                if device.type == "cuda":
                    batch = batch.pin_memory()
                batch = batch.to(device)
                logits = model(batch.input_ids, batch.attention_mask)
                # Results stay on the device; one copy per chunk, no sync per batch.
                outputs.append([torch.softmax(x.float(), dim=-1) for x in logits])
                done += len(idx)
                if on_batch is not None:
                    on_batch(done, n)
            heads = [torch.cat([o[h] for o in outputs]) for h in range(len(OBSERVATIONS))]
            event = None
            if device.type == "cuda":
                heads = [h.to("cpu", non_blocking=True) for h in heads]
                event = torch.cuda.Event()
                event.record()
            if pending is not None:
                yield _finish(*pending)
            pending = ([rows[i] for i in order], heads, event)
    if pending is not None:
        yield _finish(*pending)


def _finish(
    rows: list[int], heads: list[torch.Tensor], event: torch.cuda.Event | None
) -> tuple[list[int], list[torch.Tensor]]:
    if event is not None:
        event.synchronize()  # the non-blocking copy to the host has landed
    return rows, [h.float() for h in heads]


def head_probabilities(
    model: ChexbertModel,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    cuda_bf16: bool = True,
    cpu_bf16: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[torch.Tensor]:
    """Softmax probabilities per head (CheXpert order), each [len(texts), classes]
    on the CPU in float32, rows in the order of `texts`.

    `texts` are what the model reads (section selection already applied).
    `on_batch(done, total)` is called after each batch (progress, cancellation).
    The caller sets eval/train mode.
    """
    result = [torch.zeros((len(texts), len(classes_for(o)))) for o in OBSERVATIONS]
    for rows, heads in chunked_head_probabilities(
        model,
        tokenizer,
        texts,
        max_length=max_length,
        batch_size=batch_size,
        device=device,
        cuda_bf16=cuda_bf16,
        cpu_bf16=cpu_bf16,
        on_batch=on_batch,
    ):
        index = torch.as_tensor(rows, dtype=torch.long)
        for head, probs in enumerate(heads):
            result[head][index] = probs
    return result


def predictions_from_probabilities(probs: Sequence[torch.Tensor]) -> list[Prediction]:
    """Predictions from per-head probability matrices (rows = reports).

    Written with zip/comprehensions over plain lists: at GPU throughput, building
    the dicts is a noticeable share of the time.
    """
    if not probs or probs[0].shape[0] == 0:
        return []
    names = [o.value for o in OBSERVATIONS]
    label_columns = []
    probability_columns = []
    for head, obs in enumerate(OBSERVATIONS):
        classes = [c.value for c in classes_for(obs)]
        label_columns.append([classes[i] for i in probs[head].argmax(dim=-1).numpy().tolist()])
        probability_columns.append([dict(zip(classes, row, strict=True)) for row in probs[head].numpy().tolist()])
    return [
        Prediction(labels=dict(zip(names, labels, strict=True)), probabilities=dict(zip(names, probabilities, strict=True)))
        for labels, probabilities in zip(zip(*label_columns, strict=True), zip(*probability_columns, strict=True), strict=True)
    ]


class Predictor:
    """A loaded model ready to label reports. Not thread-safe; one per process.

    `batch_size`: reports per forward pass (default 64 on CPU, 512 on CUDA).
    `inference_mode`: how the CPU computes, one of INFERENCE_MODES (setting
    CHEXGOLD_INFERENCE_MODE in the app). `cpu_bf16=True` is the same as
    `inference_mode="bf16"` (faster only on CPUs with AMX/AVX512-BF16, see
    `cpu_bf16_is_native`; probabilities differ slightly from fp32). `cuda_bf16`: bf16 autocast on
    CUDA. `chunk_size`: reports prepared at a time (default: all on CPU,
    8192 on CUDA, so CPU work overlaps GPU work).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        cpu_bf16: bool = False,
        cuda_bf16: bool = True,
        num_threads: int | None = None,
        chunk_size: int | None = None,
        inference_mode: str = "fp32",
    ) -> None:
        mode = resolve_inference_mode(inference_mode)
        if num_threads:
            torch.set_num_threads(num_threads)
        self.device = resolve_device(device)
        self.inference_mode = mode if self.device.type == "cpu" else "fp32"
        model = loaded.model.to(self.device).eval()
        if self.inference_mode == "dynamic-int8":
            model = quantize_dynamic_int8(model)
        self.model = model
        self.tokenizer = loaded.tokenizer
        self.manifest: CheckpointManifest = loaded.manifest
        self.section_mode = loaded.manifest.section_mode or "auto"
        self.max_length = int(loaded.manifest.max_length or 512)
        self.batch_size = batch_size or (512 if self.device.type == "cuda" else 64)
        self.cpu_bf16 = cpu_bf16 or self.inference_mode == "bf16"
        self.cuda_bf16 = cuda_bf16
        self.chunk_size = chunk_size

    @classmethod
    def from_checkpoint(cls, directory: str | os.PathLike[str], **kwargs) -> Predictor:
        """Load one of our checkpoint directories (see `checkpoints.load_checkpoint`)."""
        return cls(load_checkpoint(directory), **kwargs)

    @classmethod
    def from_chexbert(
        cls,
        checkpoint_path: str | os.PathLike[str],
        config_dir: str | os.PathLike[str] | None,
        *,
        section_mode: str = "auto",
        **kwargs,
    ) -> Predictor:
        """Load the original CheXbert file with a bert-base-uncased config directory."""
        from .chexbert import load_chexbert_checkpoint

        return cls(
            load_chexbert_checkpoint(checkpoint_path, config_dir, section_mode=section_mode),
            **kwargs,
        )

    def predict(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> list[Prediction]:
        """Label full reports (the manifest's section mode picks the text read).

        Returns one Prediction per text, in input order.
        """
        mode = self.section_mode
        results: list[Prediction | None] = [None] * len(texts)
        for rows, heads in chunked_head_probabilities(
            self.model,
            self.tokenizer,
            texts,
            max_length=self.max_length,
            batch_size=batch_size or self.batch_size,
            device=self.device,
            cuda_bf16=self.cuda_bf16,
            cpu_bf16=self.cpu_bf16,
            prepare=lambda text: model_text(text, mode),
            chunk_size=self.chunk_size,
            on_batch=on_batch,
        ):
            for row, prediction in zip(rows, predictions_from_probabilities(heads), strict=True):
                results[row] = prediction
        return results  # type: ignore[return-value]  # every row is filled


def load_predictor(
    path: str | os.PathLike[str],
    *,
    chexbert_config_dir: str | os.PathLike[str] | None = None,
    chexbert_section_mode: str = "auto",
    **kwargs,
) -> Predictor:
    """A Predictor from one of our checkpoint directories, or from an original
    CheXbert file (which needs `chexbert_config_dir`, a bert-base-uncased
    directory). Other keyword arguments go to `Predictor`."""
    if Path(path).is_file():
        return Predictor.from_chexbert(path, chexbert_config_dir, section_mode=chexbert_section_mode, **kwargs)
    return Predictor.from_checkpoint(path, **kwargs)
