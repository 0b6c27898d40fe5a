"""Training: determinism, cancellation, crash safety, a metric floor, validation."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from labeling.observations import blank_labels
from ml_worker.ml.checkpoints import load_checkpoint
from ml_worker.ml.config import TrainingConfig
from ml_worker.ml.data import label_targets, labels_from_indices
from ml_worker.ml.predict import Predictor
from ml_worker.ml.train import TrainingCancelled, TrainingProgress, train_model
from tests.ml_worker.test_ml_support import make_examples, single_thread, write_tiny_encoder  # noqa: F401  (single_thread: autouse fixture)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_encoder(tmp_path_factory.mktemp("enc") / "encoder")


def quick_config(**overrides: object) -> TrainingConfig:
    values: dict[str, object] = {"epochs": 1, "learning_rate": 3e-3, "batch_size": 8, "max_steps": 6}
    values.update(overrides)
    return TrainingConfig(**values)  # type: ignore[arg-type]


def effusion_examples(n: int, seed: int) -> list[tuple[str, dict[str, str]]]:
    """Reports with a pleural effusion (positive) or without any mention (blank)."""
    rng = random.Random(seed)
    with_effusion = ["Large left pleural effusion.", "Small right pleural effusion.", "Moderate bilateral pleural effusions."]
    other = ["Heart size is normal.", "Lungs are clear.", "Mild cardiomegaly.", "The mediastinum is unremarkable."]
    examples = []
    for i in range(n):
        labels = blank_labels()
        sentences = [rng.choice(other)]
        if i % 2 == 0:
            sentences.append(rng.choice(with_effusion))
            labels["Pleural Effusion"] = "positive"
        if "Mild cardiomegaly." in sentences:
            labels["Cardiomegaly"] = "positive"
        rng.shuffle(sentences)
        examples.append((" ".join(sentences), labels))
    return examples


def test_no_finding_negative_or_uncertain_maps_to_blank() -> None:
    for value in ("negative", "uncertain", "blank"):
        labels = blank_labels() | {"No Finding": value, "Edema": "uncertain"}
        targets = label_targets(labels)
        assert targets[0] == 0
        assert labels_from_indices(targets)["Edema"] == "uncertain"
    assert label_targets(blank_labels() | {"No Finding": "positive"})[0] == 1
    with pytest.raises(ValueError, match="unknown observation"):
        label_targets({"Effusion": "positive"})


def test_same_seed_gives_identical_weights(encoder: Path, tmp_path: Path) -> None:
    examples = make_examples(24)
    config = quick_config(augmentations=("sentence_shuffle", "synonym_swap"), augmentation_probability=0.5)
    train_model(config, examples, [], init_from=encoder, output_dir=tmp_path / "a")
    train_model(config, examples, [], init_from=encoder, output_dir=tmp_path / "b")
    a = load_checkpoint(tmp_path / "a").model.state_dict()
    b = load_checkpoint(tmp_path / "b").model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    train_model(quick_config(seed=7), examples, [], init_from=encoder, output_dir=tmp_path / "c")
    c = load_checkpoint(tmp_path / "c").model.state_dict()
    assert not torch.equal(a["linear_heads.10.weight"], c["linear_heads.10.weight"])


def test_teacher_labels_every_augmented_text(encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ml_worker.ml import augment
    from ml_worker.ml.data import model_text

    calls: list[list[str]] = []

    def recording_teacher(texts):  # the rule labeler, recording what it was asked
        calls.append(list(texts))
        return augment.rules_teacher(texts)

    monkeypatch.setitem(augment.TEACHERS, "rules", recording_teacher)
    examples = make_examples(24)
    config = quick_config(teacher="rules", augmentations=("sentence_mix",), augmentation_probability=1.0)
    result = train_model(config, examples, [], init_from=encoder, output_dir=tmp_path / "m")
    originals = {model_text(text, "auto") for text, _ in examples}
    pool, *batches = calls  # first the sentence pool, then each batch's augmented texts
    assert pool and batches
    assert all(batch and not set(batch) & originals for batch in batches)
    assert load_checkpoint(result.output_dir).manifest.training_config["teacher"] == "rules"


def test_should_stop_cancels_and_writes_nothing(encoder: Path, tmp_path: Path) -> None:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(TrainingCancelled):
        train_model(quick_config(), make_examples(40), [], init_from=encoder, output_dir=tmp_path / "out", should_stop=should_stop)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_crash_mid_training_leaves_no_checkpoint(encoder: Path, tmp_path: Path) -> None:
    def explode(progress: TrainingProgress) -> None:
        if progress.step >= 2:
            raise RuntimeError("worker lost")

    config = quick_config(progress_interval_s=0.0)
    with pytest.raises(RuntimeError, match="worker lost"):
        train_model(config, make_examples(40), [], init_from=encoder, output_dir=tmp_path / "out", progress_callback=explode)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_steps_and_throughput(encoder: Path, tmp_path: Path) -> None:
    seen: list[TrainingProgress] = []
    result = train_model(
        quick_config(stage="gold", progress_interval_s=0.0),
        make_examples(48),
        [],
        init_from=encoder,
        output_dir=tmp_path / "out",
        progress_callback=seen.append,
    )
    assert result.steps == 6
    assert [p.step for p in seen if p.phase == "training"][-1] == 6
    assert all(p.stage == "gold" and p.total_steps == 6 for p in seen)
    assert seen[-1].phase == "done"
    assert seen[-1].loss is not None and seen[-1].examples_per_second > 0
    assert result.selection == "last_epoch_no_validation"
    assert any("no validation" in note for note in result.notes)


def test_output_dir_that_is_not_empty_is_refused_before_training(encoder: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        train_model(quick_config(), make_examples(8), [], init_from=encoder, output_dir=tmp_path / "out")


def test_learns_effusion_positive(encoder: Path, tmp_path: Path) -> None:
    config = quick_config(epochs=12, max_steps=None, batch_size=4, warmup_ratio=0.05, section_mode="full")
    train_model(config, effusion_examples(48, seed=0), [], init_from=encoder, output_dir=tmp_path / "m")
    predictor = Predictor.from_checkpoint(tmp_path / "m")
    held_out = effusion_examples(20, seed=99)
    predictions = predictor.predict([text for text, _ in held_out])
    correct = sum(
        p.labels["Pleural Effusion"] == labels["Pleural Effusion"]
        for p, (_, labels) in zip(predictions, held_out, strict=True)
    )
    assert correct >= 18, f"{correct}/20 held-out reports right for Pleural Effusion"


def test_init_from_a_checkpoint_continues_training(encoder: Path, tmp_path: Path) -> None:
    train_model(quick_config(stage="silver"), make_examples(16), [], init_from=encoder, output_dir=tmp_path / "silver")
    result = train_model(
        quick_config(stage="gold", max_steps=2),
        make_examples(16, seed=3),
        [],
        init_from=tmp_path / "silver",
        output_dir=tmp_path / "gold",
        parent_version="silver-1",
    )
    assert result.manifest.parent_version == "silver-1"
    assert result.manifest.base_encoder == str(encoder)
    assert load_checkpoint(tmp_path / "gold").manifest.stage == "gold"


def test_validation_selects_the_best_model_and_stops_early(encoder: Path, tmp_path: Path) -> None:
    pytest.importorskip("quality.metrics")
    seen: list[TrainingProgress] = []
    config = quick_config(
        epochs=30, max_steps=None, batch_size=4, early_stopping_patience=2, progress_interval_s=0.0, section_mode="full"
    )
    result = train_model(
        config,
        effusion_examples(32, seed=0),
        effusion_examples(12, seed=5),
        init_from=encoder,
        output_dir=tmp_path / "m",
        progress_callback=seen.append,
    )
    assert result.selection == "best_validation"
    assert result.best_score is not None and 0.0 <= result.best_score <= 1.0
    assert result.best_score == max(h["weighted_f1"] for h in result.validation_history)
    assert any(p.val_score is not None for p in seen)
    metrics = load_checkpoint(tmp_path / "m").manifest.validation_metrics
    assert metrics["best_score"] == result.best_score
    assert metrics["selection_metric"] == "weighted_f1"
    if result.stopped_early:
        assert result.epochs_completed < 30
    # The saved weights are the best epoch's: validating them again gives its score.
    from quality.metrics import mean_weighted_f1

    val = effusion_examples(12, seed=5)
    predictions = Predictor.from_checkpoint(tmp_path / "m").predict([t for t, _ in val])
    assert mean_weighted_f1([labels for _, labels in val], [p.labels for p in predictions]) == pytest.approx(result.best_score)


def test_validation_drives_selection_with_any_metric(encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Selection logic on its own (quality.metrics replaced by a recorded score
    sequence): the best validation's weights are kept and patience stops training."""
    import ml_worker.ml.train as train_module

    scores = iter([0.2, 0.6, 0.5, 0.4, 0.3, 0.9])
    seen_gold: list[int] = []

    def fake_score(metric: str, gold: list[dict[str, str]], pred: list[dict[str, str]]) -> float:
        seen_gold.append(len(gold))
        assert len(pred) == len(gold)
        return next(scores)

    monkeypatch.setattr(train_module, "selection_score", fake_score)
    config = quick_config(epochs=10, max_steps=None, batch_size=8, early_stopping_patience=2, selection_metric="kappa")
    result = train_model(config, make_examples(16), make_examples(6, seed=4), init_from=encoder, output_dir=tmp_path / "m")
    assert [h["kappa"] for h in result.validation_history] == [0.2, 0.6, 0.5, 0.4]
    assert result.stopped_early and result.epochs_completed == 4
    assert (result.best_epoch, result.best_score, result.best_step) == (2, 0.6, 4)
    assert seen_gold == [6, 6, 6, 6]
    assert load_checkpoint(tmp_path / "m").manifest.validation_metrics["best_epoch"] == 2


def test_an_undefined_score_never_beats_a_real_one() -> None:
    from ml_worker.ml.train import _improves

    nan = float("nan")
    assert _improves(nan, None)
    assert _improves(0.1, nan)
    assert not _improves(nan, 0.1)
    assert not _improves(nan, nan)
    assert _improves(0.5, 0.4) and not _improves(0.4, 0.4)


def test_kappa_selection_score_averages_defined_observations() -> None:
    pytest.importorskip("quality.metrics")
    from ml_worker.ml.train import selection_score

    gold = [blank_labels() | {"Edema": v} for v in ("positive", "negative", "blank", "positive")]
    assert selection_score("kappa", gold, gold) == pytest.approx(1.0)
    wrong = [blank_labels() | {"Edema": v} for v in ("negative", "positive", "positive", "blank")]
    assert selection_score("kappa", gold, wrong) < 0.5
    assert selection_score("weighted_f1", gold, gold) == pytest.approx(1.0)


def test_an_uninformative_validation_set_reports_none_not_nan(encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ml_worker.ml.train as train_module

    monkeypatch.setattr(train_module, "selection_score", lambda metric, gold, pred: float("nan"))
    seen: list[TrainingProgress] = []
    result = train_model(
        quick_config(epochs=2, max_steps=None, progress_interval_s=0.0),
        make_examples(8),
        make_examples(4, seed=2),
        init_from=encoder,
        output_dir=tmp_path / "m",
        progress_callback=seen.append,
    )
    assert result.best_score is None and result.best_epoch == 1
    assert [h["weighted_f1"] for h in result.validation_history] == [None, None]
    assert all(p.val_score is None and p.best_val_score is None for p in seen)
    assert load_checkpoint(tmp_path / "m").manifest.validation_metrics["best_score"] is None


def test_class_weights_favour_rare_classes() -> None:
    from ml_worker.ml.data import class_weights

    targets = [label_targets(blank_labels() | {"Edema": "positive"})] + [label_targets(blank_labels())] * 9
    edema = class_weights(targets)[5]  # CheXpert column 5: Edema
    assert edema[1] > edema[0]  # positive (1 of 10) outweighs blank (9 of 10)
    assert edema[2] == 1.0 and edema[3] == 1.0  # absent classes keep weight 1


def test_class_weighting_and_step_validation_run(encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ml_worker.ml.train as train_module

    monkeypatch.setattr(train_module, "selection_score", lambda metric, gold, pred: 0.5)
    config = quick_config(class_weighting=True, eval_every_steps=2, max_steps=5, early_stopping_patience=0)
    result = train_model(config, make_examples(40), make_examples(4, seed=9), init_from=encoder, output_dir=tmp_path / "m")
    assert [h["step"] for h in result.validation_history] == [2, 4, 5]
    assert result.best_step == 2  # later equal scores are not improvements


def test_init_from_an_original_chexbert_file(encoder: Path, tmp_path: Path) -> None:
    from tests.ml_worker.test_ml_chexbert import chexbert_file

    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=True)
    result = train_model(
        quick_config(max_steps=2),
        make_examples(16),
        [],
        init_from=path,
        chexbert_config_dir=encoder,
        output_dir=tmp_path / "m",
    )
    assert result.manifest.base_encoder == "chexbert:chexbert.pth"
    assert load_checkpoint(tmp_path / "m").model.config.hidden_size == 32
