"""TrainingConfig: validation and the dict round trip stored in manifests and the database."""

from __future__ import annotations

import json

import pytest

from ml_worker.ml.config import TrainingConfig


def test_defaults_are_valid_and_round_trip_through_json() -> None:
    config = TrainingConfig(stage="gold", augmentations=("synonym_swap", "sentence_shuffle"), max_steps=5)
    config.validate()
    data = json.loads(json.dumps(config.to_dict()))
    assert data["augmentations"] == ["synonym_swap", "sentence_shuffle"]
    assert TrainingConfig.from_dict(data) == config
    # The measured recipe is the default (bench/bench_gold_campaign.py).
    default = TrainingConfig()
    assert (default.max_length, default.learning_rate, default.head_learning_rate_multiplier) == (256, 1e-4, 20.0)
    assert default.section_mode == "auto" and default.early_stopping_patience == 3
    assert TrainingConfig.for_stage("gold").epochs < TrainingConfig.for_stage("silver").epochs


def test_unknown_keys_from_newer_versions_are_ignored() -> None:
    assert TrainingConfig.from_dict({"epochs": 4, "future_option": 1}).epochs == 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stage", "bronze", "stage"),
        ("selection_metric", "accuracy", "selection_metric"),
        ("device", "tpu", "device"),
        ("section_mode", "findings", "findings"),
        ("max_length", 1024, "max_length"),
        ("epochs", 0, "epochs"),
        ("warmup_ratio", 1.5, "warmup_ratio"),
        ("augmentation_probability", 2.0, "augmentation_probability"),
        ("max_steps", 0, "max_steps"),
    ],
)
def test_validate_names_the_bad_field(field: str, value: object, message: str) -> None:
    config = TrainingConfig()
    setattr(config, field, value)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_heads_learn_at_their_own_rate() -> None:
    from transformers import BertConfig

    from ml_worker.ml.modeling import ChexbertModel
    from ml_worker.ml.train import _optimizer

    model = ChexbertModel.from_config(
        BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    optimizer = _optimizer(model, TrainingConfig(learning_rate=1e-4, head_learning_rate_multiplier=20))
    head_params = {id(p) for p in model.linear_heads.parameters()}
    seen = set()
    for group in optimizer.param_groups:
        is_head = all(id(p) in head_params for p in group["params"])
        seen.add(is_head)
        assert group["lr"] == pytest.approx(2e-3 if is_head else 1e-4)
    assert seen == {True, False}


def test_teacher_is_for_the_silver_stage_only() -> None:
    TrainingConfig(stage="silver", teacher="rules").validate()
    with pytest.raises(ValueError, match="silver stage only"):
        TrainingConfig(stage="gold", teacher="rules").validate()
    with pytest.raises(ValueError, match="teacher must be one of"):
        TrainingConfig(stage="silver", teacher="oracle").validate()
