"""Typed training configuration for the CheXbert-style labeler.

Plain Python, no Django: the Django side builds a `TrainingConfig` from a form or
settings and passes it to `ml_worker.ml.train.train_model`; the checkpoint
manifest records `to_dict()` so a model says how it was trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from labeling.sections import SectionMode

from .augment import TEACHERS

STAGES = ("silver", "gold")
SELECTION_METRICS = ("weighted_f1", "kappa")
DEVICES = ("auto", "cpu", "cuda")
GOLD_EPOCHS = 3


@dataclass
class TrainingConfig:
    # "silver" (stage 1: rule labels) or "gold" (stage 2: radiologists' labels).
    # Recorded only; the caller chooses which examples to pass.
    stage: str = "silver"
    # Passes over the training examples (early stopping may end sooner). The
    # defaults below are the best recipe measured on the Open-i dev set within the
    # CPU budget (bench/bench_gold_campaign.py); `for_stage` sets the gold stage's.
    epochs: int = 6
    # Peak AdamW learning rate, reached after warmup (CheXbert used 2e-5 with a
    # BERT-base encoder and 190k reports; the small bundled encoder on a few
    # thousand reports learns better at 1e-4, measured).
    learning_rate: float = 1e-4
    # The 14 freshly initialised heads learn at learning_rate times this; a
    # larger value helps small training sets (a few thousand reports) where
    # the encoder's learning rate leaves the heads under-trained.
    head_learning_rate_multiplier: float = 20.0
    # Training examples per optimiser step.
    batch_size: int = 16
    # Reports per forward pass during validation.
    eval_batch_size: int = 64
    # Tokens per report, longer reports are truncated (BERT's limit is 512; 256
    # covers 94 % of the dev reports at half the cost of 512).
    max_length: int = 256
    # Fraction of all steps spent warming the learning rate up linearly from 0;
    # it then decays linearly to 0 at the last step.
    warmup_ratio: float = 0.1
    # AdamW decoupled weight decay (not applied to biases and LayerNorm weights).
    weight_decay: float = 0.01
    # Gradient-norm clip; 0 disables clipping.
    max_grad_norm: float = 1.0
    # Dropout on the [CLS] hidden state before the heads.
    dropout: float = 0.1
    # Seeds torch, random, numpy, the data order and augmentation; on CPU a
    # seed gives identical weights run to run.
    seed: int = 42
    # Which part of each report the model reads (auto|impression|full, see
    # labeling.sections.SectionMode); recorded in the checkpoint so prediction
    # reads the same text.
    section_mode: str = SectionMode.AUTO.value
    # Stop after this many validations without improvement; 0 never stops early.
    early_stopping_patience: int = 3
    # Metric that picks the best checkpoint: "weighted_f1" (CheXbert-style,
    # averaged over observations) or "kappa" (Cohen's kappa).
    selection_metric: str = "weighted_f1"
    # Also validate every N optimiser steps (None: once per epoch only).
    eval_every_steps: int | None = None
    # "auto": CUDA with bf16 autocast when available, else CPU in fp32.
    device: str = "auto"
    # Use bf16 autocast for training when on CUDA (ignored on CPU, where
    # training stays fp32).
    cuda_bf16: bool = True
    # Weight each head's cross-entropy by inverse class frequency in the
    # training set (helps rare classes such as uncertain).
    class_weighting: bool = False
    # Names from ml_worker.ml.augment (e.g. "sentence_shuffle", "synonym_swap",
    # "xxxx_filler", "back_translation", "sentence_mix" (needs a teacher));
    # empty: no augmentation.
    augmentations: tuple[str, ...] = ()
    # Chance that a training example is augmented (by one of `augmentations`
    # chosen at random) each time it is seen.
    augmentation_probability: float = 0.5
    # Silver stage only: the labeler whose labels the model learns ("rules").
    # With a teacher, every augmented text is re-labelled by it, which also
    # allows augmentations that change labels ("sentence_mix"). None in the
    # gold stage: a radiologist's labels cannot be recomputed for new text.
    teacher: str | None = None
    # Local MarianMT directories for back-translation (English->German and
    # German->English). Back-translation is skipped when either is unset.
    back_translation_en_de_dir: str | None = None
    back_translation_de_en_dir: str | None = None
    # Stop after this many optimiser steps in total (smoke runs); None: no cap.
    max_steps: int | None = None
    # Group examples of similar length into batches (less padding, faster);
    # batch order is still shuffled.
    group_by_length: bool = True
    # Seconds between progress callbacks while training.
    progress_interval_s: float = 2.0
    # CPU threads for torch (None: torch's default).
    num_threads: int | None = None
    # Free-form extra notes stored in the manifest (e.g. who started the run).
    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_stage(cls, stage: str, **overrides: Any) -> TrainingConfig:
        """The default recipe of a stage: gold fine-tunes a silver model, which
        needs fewer passes (measured: bench/bench_gold_campaign.py)."""
        defaults: dict[str, Any] = {"stage": stage}
        if stage == "gold":
            defaults["epochs"] = GOLD_EPOCHS
        return cls(**{**defaults, **overrides})

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.selection_metric not in SELECTION_METRICS:
            raise ValueError(
                f"selection_metric must be one of {SELECTION_METRICS}, got {self.selection_metric!r}"
            )
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        SectionMode(self.section_mode)  # raises ValueError on an unknown mode
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("batch_size and eval_batch_size must be >= 1")
        if not 8 <= self.max_length <= 512:
            raise ValueError(f"max_length must be between 8 and 512, got {self.max_length}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.head_learning_rate_multiplier <= 0:
            raise ValueError("head_learning_rate_multiplier must be > 0")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.augmentation_probability <= 1.0:
            raise ValueError("augmentation_probability must be in [0, 1]")
        if self.teacher is not None:
            if self.teacher not in TEACHERS:
                raise ValueError(f"teacher must be one of {tuple(TEACHERS)} or None, got {self.teacher!r}")
            if self.stage != "silver":
                raise ValueError("teacher is for the silver stage only: gold labels cannot be recomputed")
        if self.early_stopping_patience < 0:
            raise ValueError("early_stopping_patience must be >= 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be >= 1 or None")
        if self.eval_every_steps is not None and self.eval_every_steps < 1:
            raise ValueError("eval_every_steps must be >= 1 or None")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["augmentations"] = list(self.augmentations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Build from `to_dict()` output; unknown keys (newer versions) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "augmentations" in kwargs:
            kwargs["augmentations"] = tuple(kwargs["augmentations"])
        return cls(**kwargs)
