"""Self-describing checkpoint directories.

A checkpoint directory holds:

- ``model.safetensors`` — all weights (encoder ``bert.*`` and ``linear_heads.N.*``);
- the encoder's ``config.json`` and the tokenizer files;
- ``chexgold_manifest.json`` — observation order, class order per head, base
  encoder, training configuration, validation metrics, parent version, data
  provenance, format version and creation time.

Writes are atomic: everything goes to a temporary sibling directory that is
renamed into place at the end, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer

from labeling.observations import OBSERVATION_NAMES, OBSERVATIONS, classes_for

from .modeling import ChexbertModel, load_encoder_config

FORMAT_VERSION = 1
MANIFEST_NAME = "chexgold_manifest.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed or incompatible; the message says why."""


def label_mapping() -> dict[str, list[str]]:
    """Observation name -> class values in head order (what the model emits)."""
    return {o.value: [c.value for c in classes_for(o)] for o in OBSERVATIONS}


@dataclass
class CheckpointManifest:
    """What a checkpoint says about itself. `save_checkpoint` fills the fields
    that describe the model itself (order, mapping, format, time)."""

    base_encoder: str  # path or name of the encoder training started from
    stage: str = ""  # "silver" | "gold" | "" (e.g. an imported CheXbert model)
    section_mode: str = "auto"  # text the model reads; prediction uses the same
    max_length: int = 512
    training_config: dict[str, Any] = field(default_factory=dict)
    validation_metrics: dict[str, Any] = field(default_factory=dict)
    parent_version: str | None = None  # the model version this was fine-tuned from
    data_provenance: dict[str, Any] = field(default_factory=dict)  # counts, gold-set version...
    observation_order: list[str] = field(default_factory=lambda: list(OBSERVATION_NAMES))
    label_mapping: dict[str, list[str]] = field(default_factory=label_mapping)
    format_version: int = FORMAT_VERSION
    created_at: str = ""  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointManifest:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LoadedModel:
    model: ChexbertModel  # in eval mode, on the requested device
    tokenizer: Any  # a Hugging Face (fast) tokenizer
    manifest: CheckpointManifest
    path: Path | None  # the checkpoint directory, or None when built in memory


def is_checkpoint_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MANIFEST_NAME).is_file()


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: ChexbertModel,
    tokenizer: Any,
    manifest: CheckpointManifest,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a checkpoint to `directory` atomically and return its path.

    Refuses (FileExistsError) when `directory` exists and is not empty, unless
    `overwrite`. The manifest's observation order, label mapping, format version
    and (when empty) creation time are set here from the model.
    """
    target = Path(directory)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"checkpoint directory {target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest.observation_order = list(OBSERVATION_NAMES)
    manifest.label_mapping = label_mapping()
    manifest.format_version = FORMAT_VERSION
    if not manifest.created_at:
        manifest.created_at = datetime.now(UTC).isoformat(timespec="seconds")

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        model.bert.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MANIFEST_NAME).write_text(
            json.dumps(_json_safe(manifest.to_dict()), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n",
            encoding="utf-8",
        )
        _fsync_dir_files(tmp)
        if target.exists():
            # Move the old one aside first so the rename below cannot fail on a
            # non-empty directory; it is removed only once the new one is in place.
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(directory: str | os.PathLike[str]) -> CheckpointManifest:
    """Read and check a checkpoint's manifest (without loading weights)."""
    path = Path(directory)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise CheckpointError(f"{path} is not a chexgold checkpoint: {MANIFEST_NAME} is missing")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{manifest_path} is not valid JSON: {exc}") from None
    manifest = CheckpointManifest.from_dict(data)
    if int(manifest.format_version) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {manifest.format_version}; "
            f"this code reads format {FORMAT_VERSION} and older"
        )
    if list(manifest.observation_order) != list(OBSERVATION_NAMES):
        raise CheckpointError(
            f"{path} was saved with observation order {manifest.observation_order}, "
            f"which differs from this code's CheXpert order {list(OBSERVATION_NAMES)}; "
            "refusing to load it (its heads would be assigned to the wrong observations)"
        )
    if dict(manifest.label_mapping) != label_mapping():
        raise CheckpointError(
            f"{path} was saved with class order {manifest.label_mapping}, "
            f"expected {label_mapping()}; refusing to load it"
        )
    return manifest


def load_checkpoint(directory: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a checkpoint written by `save_checkpoint`; the model is in eval mode.

    Raises CheckpointError with a clear message for a missing file, another
    observation order or class order, or weights that do not fit.
    """
    path = Path(directory)
    manifest = read_manifest(path)
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{path} is incomplete: {WEIGHTS_NAME} is missing")
    config = load_encoder_config(path)
    dropout = float(manifest.training_config.get("dropout", 0.1))
    model = ChexbertModel.from_config(config, dropout=dropout)
    state = load_file(str(weights))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not fit the model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model.to(device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=manifest, path=path)


def _json_safe(value: Any) -> Any:
    """NaN/inf (e.g. an undefined validation score) become null: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _fsync_dir_files(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_file():
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
