"""Checkpoint save/load: round trip, manifest, refusals, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from labeling.observations import OBSERVATION_NAMES
from ml_worker.ml.checkpoints import (
    MANIFEST_NAME,
    CheckpointError,
    CheckpointManifest,
    load_checkpoint,
    save_checkpoint,
)
from ml_worker.ml.config import TrainingConfig
from ml_worker.ml.predict import Predictor
from ml_worker.ml.train import train_model
from tests.ml_worker.test_ml_support import make_examples, single_thread, write_tiny_encoder  # noqa: F401  (single_thread: autouse fixture)

TEXTS = [
    "FINDINGS: Large left pleural effusion. Mild cardiomegaly.\nIMPRESSION: Effusion.",
    "No pneumothorax.",
    "Lungs are clear. Heart size is normal. The mediastinum is unremarkable.",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ckpt")
    encoder = write_tiny_encoder(root / "encoder")
    config = TrainingConfig(stage="silver", epochs=2, learning_rate=3e-3, batch_size=8, section_mode="full")
    train_model(
        config,
        make_examples(40),
        [],
        init_from=encoder,
        output_dir=root / "model",
        parent_version="v0",
        data_provenance={"gold_set_version": "gs-3", "train_reports": 40},
    )
    return root / "model"


def test_saved_checkpoint_reloads_and_predicts_identically(trained: Path, tmp_path: Path) -> None:
    first = Predictor.from_checkpoint(trained)
    before = first.predict(TEXTS)
    loaded = load_checkpoint(trained)
    copy = save_checkpoint(tmp_path / "copy", loaded.model, loaded.tokenizer, loaded.manifest)
    after = Predictor.from_checkpoint(copy).predict(TEXTS)
    assert [p.labels for p in before] == [p.labels for p in after]
    for a, b in zip(before, after, strict=True):
        for obs in OBSERVATION_NAMES:
            for cls, prob in a.probabilities[obs].items():
                assert b.probabilities[obs][cls] == pytest.approx(prob, abs=1e-6)
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, load_checkpoint(copy).model.state_dict()[name]), name


def test_manifest_describes_the_model(trained: Path) -> None:
    manifest = json.loads((trained / MANIFEST_NAME).read_text())
    assert manifest["observation_order"] == list(OBSERVATION_NAMES)
    assert manifest["label_mapping"]["No Finding"] == ["blank", "positive"]
    assert manifest["label_mapping"]["Pleural Effusion"] == ["blank", "positive", "negative", "uncertain"]
    assert manifest["stage"] == "silver"
    assert manifest["section_mode"] == "full"
    assert manifest["parent_version"] == "v0"
    assert manifest["data_provenance"]["gold_set_version"] == "gs-3"
    assert manifest["data_provenance"]["train_examples"] == 40
    assert manifest["training_config"]["learning_rate"] == 3e-3
    assert manifest["validation_metrics"]["selection"] == "last_epoch_no_validation"
    assert manifest["base_encoder"].endswith("encoder")
    assert manifest["format_version"] == 1
    assert manifest["created_at"]
    assert (trained / "model.safetensors").is_file()
    assert (trained / "config.json").is_file()
    assert (trained / "tokenizer.json").is_file() or (trained / "vocab.txt").is_file()


def test_predictor_uses_the_section_mode_of_the_manifest(trained: Path) -> None:
    predictor = Predictor.from_checkpoint(trained)
    assert predictor.section_mode == "full"


def test_load_refuses_a_different_observation_order(trained: Path, tmp_path: Path) -> None:
    loaded = load_checkpoint(trained)
    bad = save_checkpoint(tmp_path / "bad", loaded.model, loaded.tokenizer, loaded.manifest)
    manifest = json.loads((bad / MANIFEST_NAME).read_text())
    manifest["observation_order"] = list(reversed(manifest["observation_order"]))
    (bad / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="observation order"):
        load_checkpoint(bad)


def test_load_refuses_a_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=MANIFEST_NAME):
        load_checkpoint(tmp_path)


def test_save_refuses_a_non_empty_directory_and_leaves_no_temp_dirs(trained: Path, tmp_path: Path) -> None:
    loaded = load_checkpoint(trained)
    target = tmp_path / "taken"
    target.mkdir()
    (target / "something").write_text("x")
    with pytest.raises(FileExistsError):
        save_checkpoint(target, loaded.model, loaded.tokenizer, CheckpointManifest(base_encoder="x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_failed_save_leaves_nothing(trained: Path, tmp_path: Path) -> None:
    loaded = load_checkpoint(trained)

    class BrokenTokenizer:
        def save_pretrained(self, directory: object) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "new", loaded.model, BrokenTokenizer(), CheckpointManifest(base_encoder="x"))
    assert list(tmp_path.iterdir()) == []
