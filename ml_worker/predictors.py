"""Loaded models, one per worker process, loaded lazily (never at import time)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from ml_worker.model_store import checkpoint_local_path

if TYPE_CHECKING:
    from labeling.models import ModelVersion
    from ml_worker.ml.predict import Predictor

_lock = threading.Lock()
_cache: dict[str, Predictor] = {}


def predictor_for_path(path: str | Path, *, batch_size: int = 32) -> Predictor:
    """Load one of our checkpoint directories, or an original CheXbert file
    (then CHEXGOLD_CHEXBERT_CONFIG_DIR names the BERT-base config + vocabulary),
    computing as CHEXGOLD_INFERENCE_MODE says."""
    # here, not at the top: these import torch, which web processes never need
    from ml_worker.ml.checkpoints import is_checkpoint_dir
    from ml_worker.ml.predict import Predictor
    path = checkpoint_local_path(path)  # a `store:` checkpoint is fetched into this process's cache
    key = str(Path(path).resolve())
    with _lock:
        if key not in _cache:
            if is_checkpoint_dir(path):
                _cache[key] = Predictor.from_checkpoint(
                    path, batch_size=batch_size, inference_mode=settings.CHEXGOLD_INFERENCE_MODE
                )
            else:
                _cache[key] = Predictor.from_chexbert(
                    path, settings.CHEXGOLD_CHEXBERT_CONFIG_DIR or None,
                    section_mode=settings.CHEXGOLD_LABEL_SECTION, batch_size=batch_size,
                    inference_mode=settings.CHEXGOLD_INFERENCE_MODE,
                )
        return _cache[key]


def predictor_for_version(version: ModelVersion) -> Predictor:
    return predictor_for_path(version.checkpoint_path)


def predictors_forget() -> None:
    """Drop loaded models (tests; a worker that must free memory)."""
    with _lock:
        _cache.clear()
