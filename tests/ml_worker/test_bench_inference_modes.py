"""bench/bench_inference_modes.py with a model version's `store:` checkpoint: the script
fetches it through ml_worker.model_store (here from a real S3-compatible server, moto,
into the script's own empty cache) and labels a tiny data set in the Open-i layout."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labeling.chexpert_csv import header, row
from ml_worker.ml.config import TrainingConfig
from ml_worker.ml.train import train_model
from ml_worker.model_store import checkpoint_publish
from tests.ml_worker.test_ml_support import make_examples, write_tiny_encoder
from tests.object_store import s3_env, s3_storages

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "bench_inference_modes.py"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-model")
    train_model(TrainingConfig(epochs=1, max_steps=2, batch_size=8), make_examples(16), [],
                init_from=write_tiny_encoder(root / "encoder"), output_dir=root / "tiny-1")
    return root / "tiny-1"


def openi_like(directory: Path, n: int = 12) -> Path:
    """reports.csv (id, Reports) and labels.csv (CheXpert columns), as ../shared/data/openi-dev has them."""
    directory.mkdir()
    examples = make_examples(n, seed=3)
    with open(directory / "reports.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Reports"])
        writer.writerows([f"R{i}", text] for i, (text, _) in enumerate(examples))
    with open(directory / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header(has_ids=True, include_text=False))
        writer.writerows(row(text=None, external_id=f"R{i}", labels=labels) for i, (_, labels) in enumerate(examples))
    return directory


def run_bench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_a_store_checkpoint_is_fetched_from_object_storage_and_benchmarked(  # type: ignore[no-untyped-def]
        s3_server: str, tiny_model: Path, tmp_path: Path, settings) -> None:
    # The training side publishes the checkpoint to the object store, as a GPU worker does.
    settings.STORAGES = s3_storages(s3_server)
    name = checkpoint_publish(local_dir=tiny_model)
    assert name == "store:tiny-1"
    # The benchmark runs as another host would: its own empty var dir, the bucket the only link.
    var_dir = tmp_path / "bench-var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CHEXGOLD_MODEL_DIR")}
    env.update(s3_env(s3_server, var_dir), DJANGO_SETTINGS_MODULE="chexgold.settings", HF_HUB_OFFLINE="1")
    output = tmp_path / "inference_modes.json"
    done = run_bench(env, "--checkpoint", name, "--modes", "fp32,dynamic-int8", "--rounds", "1", "--reports", "8",
                     "--batch-size", "4", "--threads", "1", "--data", str(openi_like(tmp_path / "openi")),
                     "--output", str(output))
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(output.read_text())
    (labelled,) = result["labels"]
    assert labelled["checkpoint"] == "store:tiny-1"
    local = Path(labelled["local_path"])
    assert local == var_dir / "model-cache" / "tiny-1"  # downloaded into the script's own cache
    assert sorted(p.name for p in local.iterdir() if p.name != ".complete") == sorted(p.name for p in tiny_model.iterdir())
    assert {m["mode"] for m in labelled["modes"]} == {"fp32", "dynamic-int8"}
    assert next(m for m in labelled["modes"] if m["mode"] == "fp32")["vs_fp32"]["cell_agreement"] == 1.0
    assert {s["mode"] for s in result["speed"]} == {"fp32", "dynamic-int8"}


def test_a_store_checkpoint_that_is_not_in_the_store_is_a_clear_error(  # type: ignore[no-untyped-def]
        s3_server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CHEXGOLD_MODEL_DIR")}
    env.update(s3_env(s3_server, tmp_path / "var"), DJANGO_SETTINGS_MODULE="chexgold.settings", HF_HUB_OFFLINE="1")
    done = run_bench(env, "--checkpoint", "store:nowhere", "--modes", "fp32", "--data",
                     str(openi_like(tmp_path / "openi")), "--output", str(tmp_path / "out.json"))
    assert done.returncode == 1
    assert "--checkpoint store:nowhere: checkpoint 'nowhere' is not in the model store" in done.stderr
