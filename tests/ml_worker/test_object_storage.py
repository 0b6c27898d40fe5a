"""Checkpoints and uploads in an S3-compatible object store (moto in server mode), with workers
that share no directory: each has its own CHEXGOLD_VAR_DIR and the object store is the only link."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
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
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]

BUCKET = "chexgold-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) with an empty bucket; yields its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _s3_env(endpoint: str, var_dir: Path) -> dict[str, str]:
    return {
        "CHEXGOLD_STORAGE": "s3", "CHEXGOLD_S3_BUCKET": BUCKET, "CHEXGOLD_S3_ENDPOINT_URL": endpoint,
        "CHEXGOLD_S3_REGION": "us-east-1", "CHEXGOLD_S3_ACCESS_KEY_ID": "testing",
        "CHEXGOLD_S3_SECRET_ACCESS_KEY": "testing",
        # Only this worker's own directory: nothing below is visible to another process.
        "CHEXGOLD_VAR_DIR": str(var_dir), "CHEXGOLD_MODEL_DIR": str(var_dir / "models"),
        "CHEXGOLD_UPLOAD_DIR": str(var_dir / "uploads"), "CHEXGOLD_MODEL_CACHE_DIR": str(var_dir / "model-cache"),
    }


def _s3_storages(endpoint: str) -> dict[str, dict[str, object]]:
    options = {"bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "us-east-1", "access_key": "testing",
               "secret_key": "testing", "file_overwrite": True}
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "models": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": "models"}},
        "uploads": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": "uploads"}},
    }


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
