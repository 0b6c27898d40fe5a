"""A real `gpu`-queue worker trains a model version and labels every report with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.models import MachinePrediction
from labeling.services.predictions import rule_predictions_create
from ml_worker.models import TrainingRun
from ml_worker.services import model_version_promote, training_run_create
from tests.factories import ReportFactory
from tests.ml_worker.test_ml_support import make_examples, write_tiny_encoder
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]



def test_training_and_inference_tasks_run_on_a_real_gpu_queue_worker(start_worker, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    encoder = write_tiny_encoder(tmp_path / "encoder")
    settings.CHEXGOLD_BASE_ENCODER = str(encoder)
    worker = start_worker("gpu", extra_env={"CHEXGOLD_BASE_ENCODER": str(encoder), "CHEXGOLD_MODEL_DIR": str(tmp_path / "models")})
    reports = [ReportFactory(external_id=f"W{i}", text=text) for i, (text, _) in enumerate(make_examples(20, seed=5))]
    rule_predictions_create(report_ids=[r.id for r in reports])
    run = training_run_create(stage="silver", base="encoder", overrides={"epochs": 1, "learning_rate": 3e-3, "batch_size": 8, "max_length": 64})
    assert wait_until(lambda: TrainingRun.objects.get(id=run.id).status in ("succeeded", "failed", "cancelled"), timeout=120.0), worker.output()[-3000:]
    run.refresh_from_db()
    assert run.status == "succeeded", run.log + worker.output()[-3000:]
    version = run.produced_version
    assert version is not None and not version.is_active  # one epoch on 20 reports does not pass the gate
    # An admin promotes it anyway; the promotion queues the re-labelling job on the same queue.
    model_version_promote(version=version)
    assert wait_until(lambda: MachinePrediction.objects.filter(source="model").count() == len(reports), timeout=120.0), worker.output()[-3000:]
    assert "Task ml_worker.tasks.training_run_execute_task[" in worker.output()
