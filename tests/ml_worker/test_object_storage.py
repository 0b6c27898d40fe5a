"""Checkpoints and uploads in an S3-compatible object store (moto in server mode), with workers
that share no directory: each has its own CHEXGOLD_VAR_DIR and the object store is the only link."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import ImportBatch, MachinePrediction, Report
from labeling.services.predictions import rule_predictions_create
from ml_worker.model_store import STORE_PREFIX
from ml_worker.models import TrainingRun
from ml_worker.services import model_version_promote, training_run_create
from tests.factories import ReportFactory
from tests.ml_worker.test_ml_support import make_examples, write_tiny_encoder
from tests.object_store import s3_env as _s3_env
from tests.object_store import s3_storages as _s3_storages
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]

def test_gpu_worker_trains_into_object_store_and_other_processes_load_it(  # type: ignore[no-untyped-def]
    start_worker, make_user, s3_server: str, tmp_path: Path, settings
) -> None:
    from ml_worker.predictors import predictor_for_version, predictors_forget

    settings.STORAGES = _s3_storages(s3_server)
    settings.CHEXGOLD_MODEL_CACHE_DIR = tmp_path / "web-var" / "model-cache"
    encoder = write_tiny_encoder(tmp_path / "encoder")
    settings.CHEXGOLD_BASE_ENCODER = str(encoder)
    var_a, var_b = tmp_path / "worker-a-var", tmp_path / "worker-b-var"

    # Worker A (gpu queue) trains a tiny version; its checkpoint goes to the object store.
    trainer = start_worker("gpu", extra_env={**_s3_env(s3_server, var_a), "CHEXGOLD_BASE_ENCODER": str(encoder)})
    reports = [ReportFactory(external_id=f"S{i}", text=text) for i, (text, _) in enumerate(make_examples(20, seed=7))]
    rule_predictions_create(report_ids=[r.id for r in reports])
    run = training_run_create(stage="silver", base="encoder",
                              overrides={"epochs": 1, "learning_rate": 3e-3, "batch_size": 8, "max_length": 64})
    assert wait_until(lambda: TrainingRun.objects.get(id=run.id).status in ("succeeded", "failed", "cancelled"),
                      timeout=120.0), trainer.output()[-3000:]
    run.refresh_from_db()
    assert run.status == "succeeded", run.log + trainer.output()[-3000:]
    version = run.produced_version
    assert version is not None and version.checkpoint_path.startswith(STORE_PREFIX)
    trainer.stop()
    # Nothing of worker A's disk (nor the base encoder) is left for anyone else to read.
    shutil.rmtree(var_a)
    shutil.rmtree(encoder)

    # The web process loads it from the object store into its own cache.
    predictors_forget()
    predicted = predictor_for_version(version).predict(["Large left pleural effusion."])
    assert len(predicted) == 1
    assert (settings.CHEXGOLD_MODEL_CACHE_DIR / version.checkpoint_path[len(STORE_PREFIX):]).is_dir()
    predictors_forget()

    # Worker B (another var dir) imports an upload it only finds in the object store, and
    # re-labels every report with the promoted model, which it downloads itself.
    labeler = start_worker("default,gpu", extra_env=_s3_env(s3_server, var_b))
    from labeling.services.uploads import report_upload_accept

    admin = make_user("admin1", "admin")
    batch = report_upload_accept(upload=SimpleUploadedFile("two.csv", b"id,Reports\nU1,Small right effusion.\nU2,Normal.\n"),
                                 user=admin)
    assert batch.stored_path.startswith("store:")
    assert wait_until(lambda: ImportBatch.objects.get(id=batch.id).status in ("succeeded", "failed"), timeout=60.0), \
        labeler.output()[-3000:]
    batch.refresh_from_db()
    assert batch.status == "succeeded", batch.errors
    assert Report.objects.filter(external_id__in=["U1", "U2"]).count() == 2

    model_version_promote(version=version)
    total = Report.objects.count()
    assert wait_until(lambda: MachinePrediction.objects.filter(source="model", model_version=version).count() == total,
                      timeout=120.0), labeler.output()[-3000:]
    assert (var_b / "model-cache" / version.checkpoint_path[len(STORE_PREFIX):]).is_dir()
