"""Batched inference: reports in, CheXpert labels and class probabilities out.

Load a `Predictor` once per worker process (it holds the model) and call
`predict` with any number of texts. Texts are sorted by token length and cut
into batches padded to their own longest text (dynamic padding), then results
are put back in the caller's order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from labeling.observations import OBSERVATIONS, LabelDict, classes_for

from .checkpoints import CheckpointManifest, LoadedModel, load_checkpoint
from .data import model_text, pad_batch, pad_token_id, tokenize
from .modeling import ChexbertModel, resolve_device


@dataclass(frozen=True)
class Prediction:
    labels: LabelDict  # observation name -> LabelValue value (the argmax class)
    probabilities: dict[str, dict[str, float]]  # observation -> class value -> softmax probability


def autocast_context(device: torch.device, *, cuda_bf16: bool = True, cpu_bf16: bool = False):
    """bf16 autocast on CUDA (unless disabled) and, when asked, on CPU."""
    if device.type == "cuda" and cuda_bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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
    n = len(texts)
    if n == 0:
        return [torch.zeros((0, len(classes_for(o)))) for o in OBSERVATIONS]
    sequences = tokenize(tokenizer, texts, max_length)
    order = sorted(range(n), key=lambda i: len(sequences[i]))
    pad_id = pad_token_id(tokenizer)
    chunks: list[list[torch.Tensor]] = []
    done = 0
    with torch.inference_mode(), autocast_context(device, cuda_bf16=cuda_bf16, cpu_bf16=cpu_bf16):
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            batch = pad_batch([sequences[i] for i in idx], pad_id)
            if device.type == "cuda":
                batch = batch.pin_memory()
            batch = batch.to(device)
            logits = model(batch.input_ids, batch.attention_mask)
            # Keep results on the device; one transfer at the end avoids a sync per batch.
            chunks.append([torch.softmax(x.float(), dim=-1) for x in logits])
            done += len(idx)
            if on_batch is not None:
                on_batch(done, n)
    inverse = torch.empty(n, dtype=torch.long)
    inverse[torch.as_tensor(order, dtype=torch.long)] = torch.arange(n)
    result = []
    for head in range(len(OBSERVATIONS)):
        stacked = torch.cat([c[head] for c in chunks]).to("cpu")
        result.append(stacked[inverse])
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
    """A loaded model ready to label reports. Not thread-safe; one per process."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str = "auto",
        batch_size: int = 64,
        cpu_bf16: bool = False,
        cuda_bf16: bool = True,
        num_threads: int | None = None,
    ) -> None:
        if num_threads:
            torch.set_num_threads(num_threads)
        self.device = resolve_device(device)
        self.model = loaded.model.to(self.device).eval()
        self.tokenizer = loaded.tokenizer
        self.manifest: CheckpointManifest = loaded.manifest
        self.section_mode = loaded.manifest.section_mode or "auto"
        self.max_length = int(loaded.manifest.max_length or 512)
        self.batch_size = batch_size
        self.cpu_bf16 = cpu_bf16
        self.cuda_bf16 = cuda_bf16

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
        model_texts = [model_text(t, self.section_mode) for t in texts]
        probs = head_probabilities(
            self.model,
            self.tokenizer,
            model_texts,
            max_length=self.max_length,
            batch_size=batch_size or self.batch_size,
            device=self.device,
            cuda_bf16=self.cuda_bf16,
            cpu_bf16=self.cpu_bf16,
            on_batch=on_batch,
        )
        return predictions_from_probabilities(probs)
