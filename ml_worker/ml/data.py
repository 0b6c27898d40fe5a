"""Turning reports and label dicts into model inputs and targets, and back.

An *example* is ``(text, labels)``: the full report and a LabelDict
(observation name -> LabelValue value; missing observations count as blank).
The section mode picks what text the model reads (`labeling.sections`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from labeling.observations import (
    OBSERVATIONS,
    LabelDict,
    LabelValue,
    Observation,
    classes_for,
)
from labeling.sections import text_for_mode

Example = tuple[str, Mapping[str, str]]

# label value -> class index, per head (CheXpert order).
_CLASS_INDEX: tuple[dict[LabelValue, int], ...] = tuple(
    {value: i for i, value in enumerate(classes_for(o))} for o in OBSERVATIONS
)


def label_targets(labels: Mapping[str, str]) -> list[int]:
    """Class index per head for one LabelDict.

    No Finding's head has only blank/positive: a reader's "No Finding =
    negative/uncertain" means "not a normal study" and becomes blank, as in
    CheXbert. Raises ValueError on an unknown observation or value.
    """
    known = {o.value for o in OBSERVATIONS}
    for name in labels:
        if name not in known:
            raise ValueError(f"unknown observation: {name!r}")
    targets = []
    for obs, index in zip(OBSERVATIONS, _CLASS_INDEX, strict=True):
        value = LabelValue(labels.get(obs.value, LabelValue.BLANK.value))
        if obs is Observation.NO_FINDING and value not in index:
            value = LabelValue.BLANK
        targets.append(index[value])
    return targets


def labels_from_indices(indices: Sequence[int]) -> LabelDict:
    """Inverse of `label_targets` (up to the No Finding mapping)."""
    return {
        obs.value: classes_for(obs)[int(i)].value
        for obs, i in zip(OBSERVATIONS, indices, strict=True)
    }


def model_text(text: str, section_mode: str) -> str:
    """The text the model reads for a report; falls back to the whole report
    when the chosen sections are empty (e.g. a bare heading)."""
    selected = text_for_mode(text, section_mode).strip()
    return selected if selected else text.strip()


@dataclass(frozen=True)
class EncodedBatch:
    input_ids: torch.Tensor  # [batch, longest in batch]
    attention_mask: torch.Tensor  # same shape, 1 for real tokens

    def pin_memory(self) -> EncodedBatch:
        """Page-locked copies, so the copy to a GPU can overlap compute."""
        return EncodedBatch(self.input_ids.pin_memory(), self.attention_mask.pin_memory())

    def to(self, device: torch.device) -> EncodedBatch:
        non_blocking = device.type == "cuda"
        return EncodedBatch(
            self.input_ids.to(device, non_blocking=non_blocking),
            self.attention_mask.to(device, non_blocking=non_blocking),
        )


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text (with [CLS]/[SEP]), truncated to `max_length`, unpadded."""
    if not texts:
        return []
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return encoded["input_ids"]


def pad_batch(sequences: Sequence[Sequence[int]], pad_token_id: int) -> EncodedBatch:
    """Dynamic padding: pad to the longest sequence in this batch only."""
    longest = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), longest), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return EncodedBatch(input_ids, attention_mask)


def encode_batch(tokenizer, texts: Sequence[str], max_length: int) -> EncodedBatch:
    return pad_batch(tokenize(tokenizer, texts, max_length), pad_token_id(tokenizer))


def pad_token_id(tokenizer) -> int:
    pad = tokenizer.pad_token_id
    return 0 if pad is None else int(pad)


def targets_tensor(targets: Sequence[Sequence[int]]) -> torch.Tensor:
    """[batch, 14] class indices."""
    return torch.as_tensor(targets, dtype=torch.long).reshape(len(targets), len(OBSERVATIONS))


def training_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: random.Random,
    *,
    group_by_length: bool,
) -> Iterator[list[int]]:
    """Index batches for one epoch, deterministic for the state of `rng`.

    With `group_by_length`, indices are shuffled, cut into chunks of 50 batches,
    sorted by length within a chunk (less padding), and the batches shuffled.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        for i in range(0, len(order), batch_size):
            yield order[i : i + batch_size]
        return
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    yield from batches


def class_weights(targets: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Per-head inverse-frequency class weights, normalised to mean 1 over the
    classes present and clipped to [0.1, 10] so an absent class cannot explode."""
    weights = []
    for head, obs in enumerate(OBSERVATIONS):
        n = len(classes_for(obs))
        counts = torch.zeros(n)
        for row in targets:
            counts[row[head]] += 1
        present = counts > 0
        w = torch.ones(n)
        if present.any():
            inv = torch.where(present, counts.sum() / counts.clamp(min=1) / n, torch.zeros(n))
            mean = inv[present].mean()
            w = torch.where(present, inv / mean, torch.ones(n)).clamp(0.1, 10.0)
        weights.append(w)
    return weights

