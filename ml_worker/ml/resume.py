"""Resumable training state: what a run needs to continue after its worker died.

After each completed epoch, `train.train_model(..., resume_state_dir=DIR)`
writes into DIR:

- ``state-<epoch>.pt``: the model's weights, the optimizer's and the learning
  rate scheduler's state, the best weights so far (unless they are the current
  ones) and torch's RNG state(s);
- ``resume_state.json``: format version, the epoch and step reached, whether
  training had finished (last epoch, step cap or early stop), the training
  configuration and a fingerprint of the examples it applies to, the
  model-selection bookkeeping (best score, epoch and step, validations without
  improvement, validation history), throughput counters, Python's and NumPy's
  RNG states, and the name of its ``.pt`` file.

The JSON is replaced atomically only after its ``.pt`` file is complete, and
older ``.pt`` files are deleted after that, so DIR always describes one whole
epoch. `train_model(..., resume_from=DIR)` continues at the next epoch with
the same data order, augmentation and dropout draws as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

FORMAT_VERSION = 1
STATE_NAME = "resume_state.json"

# Options that may differ between the interrupted and the resuming worker
# without changing what is trained.
RUNTIME_OPTIONS = ("device", "num_threads", "progress_interval_s", "eval_batch_size")


class ResumeStateUnusable(ValueError):
    """A resume directory that cannot continue this training (other data or
    options, another format, a damaged file); the message says which."""


@dataclass
class ResumeState:
    """The JSON half of a resume state (the tensors are in `tensors_file`)."""

    epoch: int  # epochs completed (1-based number of the last one)
    step: int  # optimiser steps done
    finished: bool  # no further epoch would run (last epoch, max_steps, early stop)
    stopped_early: bool
    config: dict[str, Any]  # TrainingConfig.to_dict()
    data_fingerprint: str  # `examples_fingerprint` of the train and validation examples
    best_score: float | None
    best_epoch: int | None
    best_step: int | None
    evals_without_improvement: int
    history: list[dict[str, Any]]
    examples_seen: int
    train_seconds: float
    last_loss: float | None
    loss_sum: float  # training loss not yet reported as `last_loss`
    loss_count: int
    python_rng: list[Any]
    numpy_rng: list[Any]
    tensors_file: str
    format_version: int = FORMAT_VERSION
    notes: list[str] = field(default_factory=list)


@dataclass
class ResumeTensors:
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    best_model: dict[str, torch.Tensor] | None  # None: the best weights are `model`
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]


def examples_fingerprint(
    train_examples: Sequence[tuple[str, Mapping[str, str]]], val_examples: Sequence[tuple[str, Mapping[str, str]]]
) -> str:
    """sha256 of the examples in order: a state applies only to the same data."""
    digest = hashlib.sha256()
    for part, examples in (("train", train_examples), ("validation", val_examples)):
        digest.update(part.encode())
        for text, labels in examples:
            digest.update(json.dumps([text, sorted(labels.items())], ensure_ascii=False).encode("utf-8"))
            digest.update(b"\0")
    return digest.hexdigest()


def comparable_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in RUNTIME_OPTIONS}


def rng_states() -> tuple[list[Any], list[Any]]:
    """Python's and NumPy's global RNG states as JSON-ready lists."""
    version, internal, gauss = random.getstate()
    # legacy=True: the (kind, keys, pos, has_gauss, cached) tuple, never the dict form.
    state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    kind, keys, pos, has_gauss, cached = state
    return [version, list(internal), gauss], [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def rng_states_restore(python_rng: Sequence[Any], numpy_rng: Sequence[Any]) -> None:
    version, internal, gauss = python_rng
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = numpy_rng
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def resume_state_save(directory: str | os.PathLike[str], state: ResumeState, tensors: ResumeTensors) -> Path:
    """Write the state of a completed epoch; returns the JSON file's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state.tensors_file = f"state-{state.epoch:04d}.pt"
    tensors_path = directory / state.tensors_file
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".tmp-", suffix=".pt", delete=False) as fh:
        torch.save(asdict(tensors), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(fh.name, tensors_path)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".tmp-", suffix=".json", delete=False, encoding="utf-8") as jh:
        json.dump(asdict(state), jh, indent=1)
        jh.flush()
        os.fsync(jh.fileno())
    state_path = directory / STATE_NAME
    os.replace(jh.name, state_path)
    for old in directory.glob("state-*.pt"):
        if old.name != state.tensors_file:
            old.unlink(missing_ok=True)
    return state_path


def resume_state_read(directory: str | os.PathLike[str]) -> ResumeState | None:
    """The JSON half of the state in `directory`, or None when there is none.
    Cheap (no tensors are read). ResumeStateUnusable when it cannot be read."""
    path = Path(directory) / STATE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = ResumeState(**data)
    except (ValueError, TypeError) as exc:
        raise ResumeStateUnusable(f"{path} cannot be read: {exc}") from exc
    if state.format_version != FORMAT_VERSION:
        raise ResumeStateUnusable(f"{path} has format {state.format_version}, this code reads {FORMAT_VERSION}")
    return state


def resume_state_load(
    directory: str | os.PathLike[str], *, config: Mapping[str, Any], data_fingerprint: str
) -> tuple[ResumeState, ResumeTensors] | None:
    """The state in `directory` if it continues training with `config` on the
    examples of `data_fingerprint`; None when there is none;
    ResumeStateUnusable when it is for other options or data, or damaged."""
    state = resume_state_read(directory)
    if state is None:
        return None
    if state.data_fingerprint != data_fingerprint:
        raise ResumeStateUnusable("it was written for other training examples")
    if comparable_config(state.config) != comparable_config(config):
        changed = sorted(
            k for k in set(comparable_config(state.config)) | set(comparable_config(config))
            if state.config.get(k) != config.get(k)
        )
        raise ResumeStateUnusable(f"it was written with other training options ({', '.join(changed)})")
    try:
        raw = torch.load(Path(directory) / state.tensors_file, map_location="cpu", weights_only=True)
        tensors = ResumeTensors(**raw)
    except (OSError, RuntimeError, TypeError, ValueError, EOFError) as exc:
        raise ResumeStateUnusable(f"{state.tensors_file} cannot be read: {exc}") from exc
    return state, tensors
