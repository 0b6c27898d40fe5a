"""Training runs, registry and inference through the services, on a tiny encoder.

The tiny randomly initialised BERT keeps each run to a second or two; what is
tested is the bookkeeping: data selection, status, promotion, cancellation,
failure safety and chunked inference.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import GoldLabel, MachinePrediction, ModelVersion, Report
from labeling.selectors import active_model_version_get, runtime_settings_get
from labeling.services.predictions import rule_predictions_create
from ml_worker.models import TrainingRun
from ml_worker.predictors import predictors_forget
from ml_worker.services import (
    TrainingRunConflict,
    model_predictions_missing_create,
    model_version_promote,
    training_periodic_check,
    training_run_cancel,
    training_run_create,
    training_run_execute,
)
from tests.factories import ReportFactory, labels
from tests.ml_worker.test_ml_support import make_examples, write_tiny_encoder

pytestmark = pytest.mark.django_db

FAST = {"epochs": 1, "learning_rate": 3e-3, "batch_size": 8, "max_length": 64, "eval_batch_size": 16}


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_encoder(tmp_path_factory.mktemp("tiny") / "encoder")


@pytest.fixture(autouse=True)
def model_settings(settings, tmp_path: Path, tiny_encoder: Path):  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_BASE_ENCODER = str(tiny_encoder)
    settings.CHEXGOLD_MODEL_DIR = tmp_path / "models"
    predictors_forget()
    yield
    predictors_forget()


def reports_with_rule_labels(n: int = 30) -> list[Report]:
    reports = [ReportFactory(external_id=f"T{i:03d}", text=text) for i, (text, _) in enumerate(make_examples(n, seed=3))]
    rule_predictions_create(report_ids=[r.id for r in reports])
    return reports


def test_silver_run_registers_a_weak_first_version_without_a_free_pass_then_labels_everything_once_promoted(tmp_path: Path) -> None:
    reports = reports_with_rule_labels()
    run = training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    run = training_run_execute(run_id=run.id)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.log
    version = run.produced_version
    assert version is not None and not version.is_active and version.stage == "silver"
    # A few steps on 30 reports: registered, judged by the gate, and not promoted (no free pass for the first).
    assert version.metrics["promotion"]["decision"].startswith("not promoted: did not pass the gate")
    assert version.gate["status"] == "failed" and version.model_card["promotion_gate"]["status"] == "failed"
    version = model_version_promote(version=version)  # an admin promotes it anyway: it labels, but pre-fills nothing
    assert version.gate["status"] == "failed"
    assert version.metrics["data"]["silver_train_reports"] > 0
    assert "Not for clinical use" in version.model_card["not_for_clinical_use"]
    assert Path(version.checkpoint_path, "manifest.json").exists() or any(Path(version.checkpoint_path).iterdir())
    assert run.progress["step"] >= 1
    # Inference: every report gets the active version's labels and probabilities, chunk by chunk.
    assert model_predictions_missing_create(chunk_size=7) == len(reports)
    assert model_predictions_missing_create() == 0  # idempotent: nothing left
    prediction = MachinePrediction.objects.filter(source="model", model_version=version).first()
    assert prediction is not None and prediction.probabilities is not None
    assert set(prediction.probabilities["Pleural Effusion"]) == {"blank", "positive", "negative", "uncertain"}
    out = tmp_path / "model.csv"
    call_command("export_predictions", "--source", "model", "--output", str(out))
    with open(out, newline="") as fh:
        assert len(list(csv.reader(fh))) == len(reports) + 1


def test_a_failing_run_leaves_the_active_model_and_keeps_its_log(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    reports_with_rule_labels(10)
    active = ModelVersion.objects.create(name="v-active", checkpoint_path="/nowhere", is_active=True)
    settings.CHEXGOLD_BASE_ENCODER = str(tmp_path / "missing-encoder")
    run = training_run_execute(run_id=training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False).id)
    assert run.status == TrainingRun.Status.FAILED
    assert "failed:" in run.log and run.produced_version is None
    assert active_model_version_get() == active and ModelVersion.objects.count() == 1
    assert not any((tmp_path / "models").glob("run-*")) if (tmp_path / "models").exists() else True


def test_cancelling_a_queued_run_and_a_running_one() -> None:
    reports_with_rule_labels(10)
    queued = training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    assert training_run_cancel(run=queued).status == TrainingRun.Status.CANCELLED
    assert training_run_execute(run_id=queued.id).status == TrainingRun.Status.CANCELLED  # a late message does nothing
    running = training_run_create(stage="silver", base="encoder", overrides={**FAST, "epochs": 3}, enqueue=False)
    TrainingRun.objects.filter(id=running.id).update(cancel_requested=True)
    finished = training_run_execute(run_id=running.id)
    assert finished.status == TrainingRun.Status.CANCELLED and "cancelled" in finished.log
    assert ModelVersion.objects.count() == 0


def test_only_one_run_at_a_time() -> None:
    training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    with pytest.raises(TrainingRunConflict):
        training_run_create(stage="gold", overrides=FAST, enqueue=False)


def test_gold_run_trains_on_the_train_split_validates_on_validation_and_respects_manual_promotion() -> None:
    reports = reports_with_rule_labels(30)
    silver = training_run_execute(run_id=training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False).id)
    first = silver.produced_version
    assert first is not None
    first = model_version_promote(version=first)
    for i, report in enumerate(reports[:20]):
        Report.objects.filter(id=report.id).update(gold_split="validation" if i % 4 == 0 else "train")
        GoldLabel.objects.create(report=report, labels=labels(pleural_effusion="positive"), method="agreement")
    flagged = reports[1]
    Report.objects.filter(id=flagged.id).update(is_flagged=True)
    settings_row = runtime_settings_get()
    settings_row.promotion_policy = "manual"
    settings_row.save()
    run = training_run_create(stage="gold", overrides=FAST, enqueue=False)
    assert run.base_version == first
    assert not run.gold_labels.filter(report=flagged).exists()  # flagged reports leave training
    run = training_run_execute(run_id=run.id)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.log
    assert run.data_summary["validation_basis"] == "validation_gold"
    assert run.data_summary["validation_reports"] == 5
    assert run.data_summary["gold_train_reports"] == 14  # 15 train rows, one flagged
    version = run.produced_version
    assert version is not None
    assert not version.is_active and version.parent == first
    assert version.metrics["promotion"]["decision"].startswith("not promoted")
    assert active_model_version_get() == first
    model_version_promote(version=version)  # an admin promotes it ...
    assert active_model_version_get() == version
    model_version_promote(version=first)  # ... and rolls back
    assert active_model_version_get() == first and ModelVersion.objects.filter(is_active=True).count() == 1


def test_periodic_check_starts_a_gold_run_when_enough_gold_accumulated(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_TRAIN_MIN_NEW_GOLD = 3
    reports = reports_with_rule_labels(10)
    ModelVersion.objects.create(name="v1", checkpoint_path="/x", is_active=True, metrics={"data": {"gold_total": 0}})
    for report in reports[:2]:
        Report.objects.filter(id=report.id).update(gold_split="train")
        GoldLabel.objects.create(report=report, labels=labels(), method="agreement")
    assert training_periodic_check() is None  # 2 new gold < 3
    Report.objects.filter(id=reports[2].id).update(gold_split="train")
    GoldLabel.objects.create(report=reports[2], labels=labels(), method="agreement")
    run = training_periodic_check()
    assert run is not None and run.stage == "gold" and run.trigger == "periodic"
    assert training_periodic_check() is None  # one open run at a time


def test_train_model_command_runs_in_the_foreground(capsys) -> None:  # type: ignore[no-untyped-def]
    reports_with_rule_labels(12)
    call_command("train_model", "--stage", "silver", "--epochs", "1", "--lr", "0.003", "--batch-size", "8", "--max-length", "64")
    assert "registered" in capsys.readouterr().out
    assert ModelVersion.objects.count() == 1


def test_workers_compute_as_the_inference_mode_setting_says(settings, tmp_path: Path, tiny_encoder: Path) -> None:  # type: ignore[no-untyped-def]
    from ml_worker.ml.config import TrainingConfig
    from ml_worker.ml.predict import cpu_bf16_is_native
    from ml_worker.ml.train import train_model
    from ml_worker.predictors import predictor_for_path

    train_model(TrainingConfig(epochs=1, max_steps=2, batch_size=8), make_examples(16), [],
                init_from=tiny_encoder, output_dir=tmp_path / "m")
    assert settings.CHEXGOLD_INFERENCE_MODE == "auto"  # the default: bf16 only where the CPU has it natively
    assert predictor_for_path(tmp_path / "m").inference_mode == ("bf16" if cpu_bf16_is_native() else "fp32")
    predictors_forget()
    settings.CHEXGOLD_INFERENCE_MODE = "dynamic-int8"
    predictor = predictor_for_path(tmp_path / "m")
    assert predictor.inference_mode == "dynamic-int8" and len(predictor.predict(["Small left effusion."])) == 1


def test_train_model_without_any_report_says_to_import_some() -> None:
    with pytest.raises(CommandError) as info:
        call_command("train_model", "--stage", "silver")
    assert str(info.value) == "no reports imported yet: run manage.py import_reports FILE"
    assert not TrainingRun.objects.exists()


def test_silver_training_right_after_an_import_whose_labelling_was_queued_needs_no_worker(  # type: ignore[no-untyped-def]
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    path = tmp_path / "reports.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Reports"])
        writer.writerows((f"R{i}", text) for i, (text, _) in enumerate(make_examples(20, seed=4)))
    with django_capture_on_commit_callbacks(execute=False):  # no worker will ever run the queued labelling
        call_command("import_reports", str(path), "--label-in-background", stdout=io.StringIO())
    assert not MachinePrediction.objects.filter(source="rules").exists()
    out, err = io.StringIO(), io.StringIO()
    call_command("train_model", "--stage", "silver", "--epochs", "1", "--lr", "0.003", "--batch-size", "8",
                 "--max-length", "64", stdout=out, stderr=err)
    assert "rule labels: 20/20" in err.getvalue()
    assert "rule labels stored for 20 report(s) that had none" in out.getvalue() and "registered" in out.getvalue()
    assert MachinePrediction.objects.filter(source="rules").count() == 20
    assert TrainingRun.objects.get().data_summary["silver_train_reports"] > 0


def worker_lost(run: TrainingRun) -> None:
    """The state a killed worker leaves: running, no progress for an hour."""
    import datetime as dt

    from django.utils import timezone

    old = timezone.now() - dt.timedelta(hours=1)
    TrainingRun.objects.filter(id=run.id).update(status="running", started_at=old, progress={"epoch": 2, "updated_at": old.isoformat()})


def test_the_sweeper_queues_a_run_whose_worker_died_again_once_then_fails_it(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from ml_worker.services import training_run_state_dir, training_runs_stalled_fail

    run = training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    worker_lost(run)
    fresh = training_run_create  # a new run is blocked while the dead one looks open
    with pytest.raises(TrainingRunConflict):
        fresh(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert training_runs_stalled_fail() == {"requeued": [run.id], "failed": []}
    assert len(queued) == 1  # its task, sent after commit
    assert training_runs_stalled_fail() == {"requeued": [], "failed": []}  # queued now: nothing to sweep
    run.refresh_from_db()
    assert run.status == "queued" and run.resume_count == 1
    assert "worker was lost: queued again to continue from its last completed epoch (resume 1 of 1)" in run.log
    with pytest.raises(TrainingRunConflict):  # still open: it will resume
        fresh(stage="silver", base="encoder", overrides=FAST, enqueue=False)

    worker_lost(run)  # the resumed attempt dies too
    state = training_run_state_dir(run_id=run.id) / "resume"
    state.mkdir(parents=True)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert training_runs_stalled_fail() == {"requeued": [], "failed": [run.id]}
    assert not queued
    run.refresh_from_db()
    assert run.status == "failed" and "worker was lost again after being resumed" in run.log
    assert "queued again" in run.log  # the earlier line is kept
    assert not state.exists()
    fresh(stage="silver", base="encoder", overrides=FAST, enqueue=False)


def test_a_requeued_run_resumes_from_the_epoch_its_dead_worker_completed(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from ml_worker.ml.checkpoints import read_manifest
    from ml_worker.ml.config import TrainingConfig
    from ml_worker.ml.train import TrainingCancelled, train_model
    from ml_worker.services import training_data_collect, training_run_state_dir, training_runs_stalled_fail

    reports_with_rule_labels(16)
    run = training_run_create(stage="silver", base="encoder", overrides={**FAST, "epochs": 2}, enqueue=False)
    # What the dead worker got done: epoch 1 of 2, its state on the model store.
    resume = training_run_state_dir(run_id=run.id) / "resume"
    data = training_data_collect(run=run)
    with pytest.raises(TrainingCancelled):
        train_model(TrainingConfig.from_dict(run.config), data.train, data.validation,
                    output_dir=Path(settings.CHEXGOLD_MODEL_DIR) / "dead", init_from=settings.CHEXGOLD_BASE_ENCODER,
                    resume_state_dir=resume, should_stop=lambda: (resume / "resume_state.json").exists())
    worker_lost(run)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert training_runs_stalled_fail() == {"requeued": [run.id], "failed": []}
    assert len(queued) == 1  # the run's task, sent after commit

    run = training_run_execute(run_id=run.id)  # what the queued task does

    assert run.status == TrainingRun.Status.SUCCEEDED, run.log
    assert "resuming after epoch 1 of 2" in run.log and "resumed after epoch 1 of 2" in run.log
    assert "queued again" in run.log  # the log of the earlier attempt is kept
    version = run.produced_version
    assert version is not None and version.metrics["training"]["resumed_from_epoch"] == 1
    history = read_manifest(version.checkpoint_path).validation_metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2]  # epoch 1 from the dead worker, epoch 2 from this one
    assert not training_run_state_dir(run_id=run.id).exists()  # a finished run leaves no state behind


def test_worker_shutdown_interrupts_training_as_a_failure_not_a_cancel() -> None:
    from ml_worker import services

    reports_with_rule_labels(10)
    run = training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    services.WORKER_STOPPING.set()
    try:
        run = training_run_execute(run_id=run.id)
    finally:
        services.WORKER_STOPPING.clear()
    assert run.status == "failed" and "worker was shut down" in run.log


def test_stage_decides_teacher_and_augmentations(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_BACK_TRANSLATION_EN_DE_DIR = "/models/opus-mt-en-de"
    settings.CHEXGOLD_BACK_TRANSLATION_DE_EN_DIR = "/models/opus-mt-de-en"
    silver = training_run_create(stage="silver", base="encoder", overrides=FAST, enqueue=False)
    assert silver.config["teacher"] == "rules"
    assert silver.config["augmentations"] == list(settings.CHEXGOLD_SILVER_AUGMENTATIONS)
    training_run_cancel(run=silver)
    gold = training_run_create(stage="gold", base="encoder", overrides=FAST, enqueue=False)
    assert gold.config["teacher"] is None  # radiologists' labels cannot be recomputed
    assert "sentence_mix" not in gold.config["augmentations"]
    assert gold.config["back_translation_en_de_dir"] == "/models/opus-mt-en-de"
