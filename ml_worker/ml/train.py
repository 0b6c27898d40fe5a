"""Training: fine-tune the labeler on (report, labels) examples.

Stage-agnostic: stage 1 ("silver") passes rule labels, stage 2 ("gold")
radiologists' labels; `TrainingConfig.stage` is only recorded. Validation
examples drive early stopping and best-model selection and are never trained
on. The checkpoint is written once, atomically, at the end: a cancelled or
crashed run leaves nothing at `output_dir`. With `resume_state_dir`, the state
needed to continue (`resume.py`) is written after every completed epoch, and
`resume_from` continues a killed run at its next epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from labeling.observations import OBSERVATION_NAMES, LabelDict

from .augment import TEACHERS, build_augmenters
from .checkpoints import (
    CheckpointManifest,
    is_checkpoint_dir,
    load_checkpoint,
    save_checkpoint,
)
from .config import TrainingConfig
from .data import (
    class_weights,
    encode_batch,
    label_targets,
    labels_from_indices,
    model_text,
    targets_tensor,
    training_batches,
)
from .modeling import ChexbertModel, default_encoder_path, resolve_device
from .predict import head_probabilities
from .resume import (
    ResumeState,
    ResumeStateUnusable,
    ResumeTensors,
    examples_fingerprint,
    resume_state_load,
    resume_state_save,
    rng_states,
    rng_states_restore,
)

logger = logging.getLogger(__name__)

Example = tuple[str, Mapping[str, str]]


class TrainingCancelled(Exception):
    """`should_stop()` returned True; nothing was written."""


@dataclass(frozen=True)
class TrainingProgress:
    """Sent to `progress_callback` at least every `config.progress_interval_s`."""

    stage: str  # "silver" | "gold"
    phase: str  # "training" | "validating" | "saving" | "done"
    epoch: int  # 1-based current epoch
    epochs: int
    step: int  # optimiser steps done
    total_steps: int
    loss: float | None  # mean training loss since the previous report
    val_score: float | None  # latest validation score (selection metric)
    best_val_score: float | None
    examples_per_second: float  # training throughput so far (validation excluded)


@dataclass
class TrainingResult:
    output_dir: Path
    manifest: CheckpointManifest
    # "best_validation": weights of the best validation; "last_epoch_no_validation":
    # no validation examples were given, so the last weights were kept.
    selection: str
    best_score: float | None
    best_epoch: int | None
    best_step: int | None
    validation_history: list[dict[str, Any]]
    steps: int
    epochs_completed: int
    stopped_early: bool
    final_train_loss: float | None
    seconds: float
    examples_per_second: float
    notes: list[str] = field(default_factory=list)
    # The epoch a resumed run continued after (None: it started from the beginning).
    resumed_from_epoch: int | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _load_initial(
    init_from: str | os.PathLike[str] | None,
    chexbert_config_dir: str | os.PathLike[str] | None,
    dropout: float,
) -> tuple[ChexbertModel, Any, str]:
    """(model, tokenizer, base encoder description)."""
    if init_from is None:
        init_from = default_encoder_path()
    path = Path(init_from)
    if path.is_file():
        from .chexbert import load_chexbert_checkpoint

        loaded = load_chexbert_checkpoint(path, chexbert_config_dir)
        model, tokenizer, base = loaded.model, loaded.tokenizer, loaded.manifest.base_encoder
    elif is_checkpoint_dir(path):
        loaded = load_checkpoint(path)
        model, tokenizer, base = loaded.model, loaded.tokenizer, loaded.manifest.base_encoder
    elif (path / "config.json").is_file():
        model = ChexbertModel.from_encoder_dir(path, dropout=dropout)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        base = str(path)
    else:
        raise FileNotFoundError(
            f"init_from {path} is neither a chexgold checkpoint, a Hugging Face encoder "
            "directory (config.json) nor a CheXbert checkpoint file"
        )
    model.dropout.p = dropout
    return model, tokenizer, base


def _optimizer(model: ChexbertModel, config: TrainingConfig) -> torch.optim.AdamW:
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim < 2 or "LayerNorm" in name or "norm" in name.lower()
        groups.setdefault((name.startswith("linear_heads."), no_decay), []).append(param)
    head_lr = config.learning_rate * config.head_learning_rate_multiplier
    return torch.optim.AdamW(
        [
            {
                "params": params,
                "weight_decay": 0.0 if no_decay else config.weight_decay,
                "lr": head_lr if is_head else config.learning_rate,
            }
            for (is_head, no_decay), params in sorted(groups.items())
        ],
        lr=config.learning_rate,
    )


def _linear_schedule(optimizer, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        remaining = total_steps - step
        return max(0.0, remaining / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def selection_score(metric: str, gold: Sequence[LabelDict], pred: Sequence[LabelDict]) -> float:
    """The validation score that picks the best model (higher is better); nan
    when the validation set gives no information (e.g. no observation has
    support)."""
    from quality import metrics

    if metric == "weighted_f1":
        return float(metrics.mean_weighted_f1(gold, pred))
    if metric == "kappa":
        kappas = [metrics.observation_kappa(gold, pred, name) for name in OBSERVATION_NAMES]
        defined = [k for k in kappas if not math.isnan(k)]
        return float(sum(defined) / len(defined)) if defined else math.nan
    raise ValueError(f"unknown selection metric {metric!r}")


def _finite_or_none(value: float | None) -> float | None:
    """Scores leave this module as a number or None, never nan (strict JSON,
    PostgreSQL jsonb)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _improves(score: float, best: float | None) -> bool:
    """nan never improves on anything; any number improves on nan or nothing."""
    if math.isnan(score):
        return best is None
    return best is None or math.isnan(best) or score > best


def train_model(
    config: TrainingConfig,
    train_examples: Sequence[Example],
    val_examples: Sequence[Example],
    *,
    output_dir: str | os.PathLike[str],
    init_from: str | os.PathLike[str] | None = None,
    chexbert_config_dir: str | os.PathLike[str] | None = None,
    parent_version: str | None = None,
    data_provenance: Mapping[str, Any] | None = None,
    progress_callback: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_state_dir: str | os.PathLike[str] | None = None,
    resume_from: str | os.PathLike[str] | None = None,
) -> TrainingResult:
    """Train and write a checkpoint directory at `output_dir`.

    `init_from`: an encoder directory (new heads), one of our checkpoint
    directories (continue from it, e.g. stage 2 from stage 1), or an original
    CheXbert file (needs `chexbert_config_dir`); None: the bundled encoder.
    `data_provenance` (counts, gold-set version...) is stored in the manifest.
    `should_stop()` is checked every step and validation batch; when it returns
    True, TrainingCancelled is raised. `output_dir` must not exist or be empty;
    it is only written, atomically, after training succeeds.

    `resume_state_dir`: write the resumable state there after every completed
    epoch (see `resume.py`; the caller deletes it when the run is over).
    `resume_from`: a directory such a run wrote; training continues after its
    last completed epoch, as the uninterrupted run would have, provided the
    config (device, threads and the like aside) and the examples are the same.
    A directory without a state starts from the beginning; one written for
    other options or data, or damaged, too, with a note saying why.
    """
    config.validate()
    if not train_examples:
        raise ValueError("no training examples")
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output directory {out} already exists and is not empty")
    started = time.monotonic()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    notes: list[str] = []

    model, tokenizer, base_encoder = _load_initial(init_from, chexbert_config_dir, config.dropout)
    model.to(device)
    max_length = min(config.max_length, int(getattr(model.config, "max_position_embeddings", 512)))

    train_texts = [model_text(text, config.section_mode) for text, _ in train_examples]
    plan = build_augmenters(
        config.augmentations,
        back_translation_en_de_dir=config.back_translation_en_de_dir,
        back_translation_de_en_dir=config.back_translation_de_en_dir,
        device=str(device),
        teacher=TEACHERS[config.teacher] if config.teacher else None,
        pool_texts=train_texts,
    )
    notes.extend(plan.skipped)

    train_targets = [label_targets(labels) for _, labels in train_examples]
    val_texts = [model_text(text, config.section_mode) for text, _ in val_examples]
    val_targets = [label_targets(labels) for _, labels in val_examples]
    # Gold as the heads can express it (No Finding negative/uncertain -> blank),
    # so the score measures what training optimises.
    val_gold = [labels_from_indices(t) for t in val_targets]
    lengths = [len(t) for t in train_texts]
    for augmenter in plan.augmenters:
        # Back-translation: translate every training text once, up front, in
        # batches (checking for cancellation between them).
        prepare = getattr(augmenter, "translate_many", None)
        if prepare is not None:
            for start in range(0, len(train_texts), 64):
                if should_stop is not None and should_stop():
                    raise TrainingCancelled("training cancelled while back-translating")
                prepare(train_texts[start : start + 64])

    weights = [w.to(device) for w in class_weights(train_targets)] if config.class_weighting else None
    steps_per_epoch = math.ceil(len(train_examples) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = _optimizer(model, config)
    scheduler = _linear_schedule(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    use_cuda_bf16 = device.type == "cuda" and config.cuda_bf16

    step = 0
    epoch = 0
    examples_seen = 0
    train_seconds = 0.0
    loss_sum, loss_count = 0.0, 0
    last_loss: float | None = None
    last_report = 0.0
    val_score: float | None = None
    best_score: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    evals_without_improvement = 0
    history: list[dict[str, Any]] = []
    stopped_early = False
    epochs_completed = 0
    finished = False
    resumed_from_epoch: int | None = None
    fingerprint = examples_fingerprint(train_examples, val_examples) if resume_state_dir or resume_from else ""
    if resume_from is not None:
        try:
            resumed = resume_state_load(resume_from, config=config.to_dict(), data_fingerprint=fingerprint)
        except ResumeStateUnusable as exc:
            notes.append(f"resume state in {resume_from} not used ({exc}); started from the first epoch")
            resumed = None
        if resumed is not None:
            state, tensors = resumed
            model.load_state_dict(tensors.model)
            optimizer.load_state_dict(tensors.optimizer)
            scheduler.load_state_dict(tensors.scheduler)
            step, epoch, epochs_completed = state.step, state.epoch, state.epoch
            finished, stopped_early = state.finished, state.stopped_early
            best_score, best_epoch, best_step = state.best_score, state.best_epoch, state.best_step
            if best_step is not None:  # the best weights were saved unless they were the current ones
                best_state = tensors.best_model if tensors.best_model is not None else dict(tensors.model)
            evals_without_improvement = state.evals_without_improvement
            history = list(state.history)
            examples_seen, train_seconds, last_loss = state.examples_seen, state.train_seconds, state.last_loss
            loss_sum, loss_count = state.loss_sum, state.loss_count
            rng_states_restore(state.python_rng, state.numpy_rng)
            torch.set_rng_state(tensors.torch_rng)
            if tensors.cuda_rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(tensors.cuda_rng)
            resumed_from_epoch = state.epoch
            notes.append(f"resumed after epoch {state.epoch} of {config.epochs} (step {state.step}) from {resume_from}")

    def save_resume_state() -> None:
        if resume_state_dir is None:
            return
        python_rng, numpy_rng = rng_states()
        best_is_current = best_step == step
        resume_state_save(
            resume_state_dir,
            ResumeState(
                epoch=epoch, step=step, finished=finished, stopped_early=stopped_early,
                config=config.to_dict(), data_fingerprint=fingerprint,
                best_score=best_score, best_epoch=best_epoch, best_step=best_step,
                evals_without_improvement=evals_without_improvement, history=history,
                examples_seen=examples_seen, train_seconds=train_seconds, last_loss=last_loss,
                loss_sum=loss_sum, loss_count=loss_count, python_rng=python_rng, numpy_rng=numpy_rng, tensors_file="",
            ),
            ResumeTensors(
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                best_model=None if best_is_current or best_state is None else best_state,
                torch_rng=torch.get_rng_state(),
                cuda_rng=list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
            ),
        )

    def report(phase: str, *, force: bool = False) -> None:
        nonlocal last_report, loss_sum, loss_count, last_loss
        now = time.monotonic()
        if progress_callback is None or (not force and now - last_report < config.progress_interval_s):
            return
        last_report = now
        if loss_count:
            last_loss = loss_sum / loss_count
            loss_sum, loss_count = 0.0, 0
        progress_callback(
            TrainingProgress(
                stage=config.stage,
                phase=phase,
                epoch=epoch,
                epochs=config.epochs,
                step=step,
                total_steps=total_steps,
                loss=last_loss,
                val_score=_finite_or_none(val_score),
                best_val_score=_finite_or_none(best_score),
                examples_per_second=examples_seen / train_seconds if train_seconds > 0 else 0.0,
            )
        )

    def check_stop() -> None:
        if should_stop is not None and should_stop():
            raise TrainingCancelled(f"training cancelled at step {step} of {total_steps}")

    def validate() -> None:
        nonlocal val_score, best_score, best_epoch, best_step, best_state, evals_without_improvement
        model.eval()

        def on_batch(done: int, total: int) -> None:
            check_stop()
            report("validating")

        probs = head_probabilities(
            model,
            tokenizer,
            val_texts,
            max_length=max_length,
            batch_size=config.eval_batch_size,
            device=device,
            cuda_bf16=config.cuda_bf16,
            on_batch=on_batch,
        )
        model.train()
        indices = torch.stack([p.argmax(dim=-1) for p in probs], dim=1).tolist()
        pred = [labels_from_indices(row) for row in indices]
        targets = targets_tensor(val_targets)
        val_loss = sum(
            float(F.nll_loss(torch.log(p.clamp_min(1e-12)), targets[:, h])) for h, p in enumerate(probs)
        )
        val_score = selection_score(config.selection_metric, val_gold, pred)
        record = {
            "epoch": epoch,
            "step": step,
            config.selection_metric: _finite_or_none(val_score),
            "val_loss": _finite_or_none(val_loss),
        }
        history.append(record)
        if _improves(val_score, best_score):
            best_score, best_epoch, best_step = val_score, epoch, step
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            evals_without_improvement = 0
        else:
            evals_without_improvement += 1
        report("validating", force=True)

    model.train()
    report("training", force=True)
    # A resumed run continues after its last completed epoch (none left if it had finished).
    for epoch_index in range(config.epochs if finished else epochs_completed, config.epochs):
        epoch = epoch_index + 1
        rng = random.Random(config.seed * 1_000_003 + epoch_index)
        validated_at_step = -1
        for batch_indices in training_batches(
            lengths, config.batch_size, rng, group_by_length=config.group_by_length
        ):
            check_stop()
            t0 = time.monotonic()
            texts = [plan.apply(train_texts[i], rng, config.augmentation_probability) for i in batch_indices]
            batch_targets = [train_targets[i] for i in batch_indices]
            if plan.teacher is not None:
                changed = [k for k, i in enumerate(batch_indices) if texts[k] != train_texts[i]]
                for k, labels in zip(changed, plan.teacher([texts[k] for k in changed]), strict=True):
                    batch_targets[k] = label_targets(labels)
            batch = encode_batch(tokenizer, texts, max_length).to(device)
            targets = targets_tensor(batch_targets).to(device)
            autocast = (
                torch.autocast("cuda", dtype=torch.bfloat16) if use_cuda_bf16 else contextlib.nullcontext()
            )
            with autocast:
                logits = model(batch.input_ids, batch.attention_mask)
            loss = torch.stack(
                [
                    F.cross_entropy(logit.float(), targets[:, head], weight=None if weights is None else weights[head])
                    for head, logit in enumerate(logits)
                ]
            ).sum()
            loss.backward()
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training loss became {loss_value} at step {step}")
            loss_sum += loss_value
            loss_count += 1
            examples_seen += len(batch_indices)
            train_seconds += time.monotonic() - t0
            report("training", force=step == 1)
            if val_texts and config.eval_every_steps and step % config.eval_every_steps == 0:
                validate()
                validated_at_step = step
                if config.early_stopping_patience and evals_without_improvement >= config.early_stopping_patience:
                    stopped_early = True
                    break
            if step >= total_steps:
                break
        epochs_completed = epoch
        finished = stopped_early or step >= total_steps
        if val_texts and validated_at_step != step:
            validate()
            if (
                not finished
                and config.early_stopping_patience
                and evals_without_improvement >= config.early_stopping_patience
            ):
                stopped_early = True
        finished = finished or stopped_early or epoch == config.epochs
        save_resume_state()
        if finished:
            break

    check_stop()
    if loss_count:
        last_loss = loss_sum / loss_count
    if val_texts:
        assert best_state is not None
        model.load_state_dict(best_state)
        selection = "best_validation"
    else:
        selection = "last_epoch_no_validation"
        notes.append("no validation examples: kept the weights of the last step")
    if stopped_early:
        notes.append(
            f"stopped early after {config.early_stopping_patience} validations without improvement"
        )
    model.eval()
    report("saving", force=True)
    provenance = dict(data_provenance or {})
    provenance.setdefault("train_examples", len(train_examples))
    provenance.setdefault("val_examples", len(val_examples))
    manifest = CheckpointManifest(
        base_encoder=base_encoder,
        stage=config.stage,
        section_mode=config.section_mode,
        max_length=max_length,
        training_config=config.to_dict(),
        validation_metrics={
            "selection_metric": config.selection_metric,
            "selection": selection,
            "best_score": _finite_or_none(best_score),
            "best_epoch": best_epoch,
            "best_step": best_step,
            "history": history,
            "final_train_loss": last_loss,
        },
        parent_version=parent_version,
        data_provenance=provenance,
    )
    save_checkpoint(out, model, tokenizer, manifest)
    seconds = time.monotonic() - started
    eps = examples_seen / train_seconds if train_seconds > 0 else 0.0
    report("done", force=True)
    return TrainingResult(
        output_dir=out,
        manifest=manifest,
        selection=selection,
        best_score=_finite_or_none(best_score),
        best_epoch=best_epoch,
        best_step=best_step,
        validation_history=history,
        steps=step,
        epochs_completed=epochs_completed,
        stopped_early=stopped_early,
        final_train_loss=last_loss,
        seconds=seconds,
        examples_per_second=eps,
        notes=notes,
        resumed_from_epoch=resumed_from_epoch,
    )
