"""Resuming training from the state of a completed epoch (ml_worker.ml.resume)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml_worker.ml.checkpoints import load_checkpoint
from ml_worker.ml.config import TrainingConfig
from ml_worker.ml.predict import Predictor
from ml_worker.ml.resume import resume_state_read
from ml_worker.ml.train import TrainingCancelled, train_model
from tests.ml_worker.test_ml_support import make_examples, single_thread, write_tiny_encoder  # noqa: F401  (single_thread: autouse fixture)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_encoder(tmp_path_factory.mktemp("enc") / "encoder")


def three_epochs() -> TrainingConfig:
    # Augmentation and dropout draw random numbers, so an exact match needs every RNG restored.
    return TrainingConfig(
        epochs=3, learning_rate=3e-3, batch_size=8, max_length=64, eval_batch_size=16, early_stopping_patience=0,
        augmentations=("sentence_shuffle", "synonym_swap"), augmentation_probability=0.5,
    )


def killed_after_first_epoch(encoder: Path, tmp_path: Path, train: list, val: list) -> Path:
    """Run until the state of epoch 1 is written, then stop as a killed worker would."""
    state_dir = tmp_path / "runs" / "1" / "resume"
    with pytest.raises(TrainingCancelled):
        train_model(
            three_epochs(), train, val, init_from=encoder, output_dir=tmp_path / "killed",
            resume_state_dir=state_dir, should_stop=lambda: (state_dir / "resume_state.json").exists(),
        )
    assert not (tmp_path / "killed").exists()
    state = resume_state_read(state_dir)
    assert state is not None and state.epoch == 1 and not state.finished
    return state_dir


def test_a_run_resumed_from_its_epoch_1_state_ends_as_the_uninterrupted_run(encoder: Path, tmp_path: Path) -> None:
    train, val = make_examples(32, seed=1), make_examples(12, seed=2)
    whole = train_model(three_epochs(), train, val, init_from=encoder, output_dir=tmp_path / "whole",
                        resume_state_dir=tmp_path / "whole-state")
    state_dir = killed_after_first_epoch(encoder, tmp_path, train, val)

    resumed = train_model(three_epochs(), train, val, init_from=encoder, output_dir=tmp_path / "resumed",
                          resume_state_dir=state_dir, resume_from=state_dir)

    assert resumed.resumed_from_epoch == 1 and whole.resumed_from_epoch is None
    assert resumed.epochs_completed == whole.epochs_completed == 3
    assert resumed.steps == whole.steps
    assert [h["epoch"] for h in resumed.validation_history] == [1, 2, 3]
    assert resumed.validation_history == whole.validation_history
    assert resumed.best_epoch == whole.best_epoch and resumed.best_score == whole.best_score
    loaded = load_checkpoint(tmp_path / "resumed")  # a valid, self-describing checkpoint
    assert loaded.manifest.validation_metrics["best_epoch"] == whole.best_epoch
    expected = load_checkpoint(tmp_path / "whole").model.state_dict()
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    predictions = Predictor(loaded, device="cpu").predict([text for text, _ in val])
    assert len(predictions) == len(val) and set(predictions[0].labels) == set(val[0][1])
    assert resume_state_read(state_dir).finished  # type: ignore[union-attr]
    assert len(list(state_dir.glob("state-*.pt"))) == 1  # only the latest epoch's tensors are kept


def test_a_state_written_for_other_examples_is_not_used(encoder: Path, tmp_path: Path) -> None:
    train, val = make_examples(32, seed=1), make_examples(12, seed=2)
    state_dir = killed_after_first_epoch(encoder, tmp_path, train, val)
    result = train_model(three_epochs(), make_examples(32, seed=5), val, init_from=encoder,
                         output_dir=tmp_path / "other", resume_from=state_dir)
    assert result.resumed_from_epoch is None and result.epochs_completed == 3
    assert any("not used (it was written for other training examples)" in note for note in result.notes)


def test_a_state_of_a_finished_run_goes_straight_to_the_checkpoint(encoder: Path, tmp_path: Path) -> None:
    train, val = make_examples(32, seed=1), make_examples(12, seed=2)
    state_dir = tmp_path / "state"
    first = train_model(three_epochs(), train, val, init_from=encoder, output_dir=tmp_path / "a", resume_state_dir=state_dir)
    again = train_model(three_epochs(), train, val, init_from=encoder, output_dir=tmp_path / "b", resume_from=state_dir)
    assert again.resumed_from_epoch == 3 and again.steps == first.steps
    assert again.validation_history == first.validation_history
    load_checkpoint(tmp_path / "b")
