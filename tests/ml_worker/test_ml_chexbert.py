"""Loading the original CheXbert checkpoint format (keys, head order, config dir)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
import torch
from transformers import BertModel

from labeling.observations import CHEXBERT_ORDER, OBSERVATIONS, Observation, classes_for
from ml_worker.ml.checkpoints import CheckpointError
from ml_worker.ml.chexbert import ChexbertConfigMissing, load_chexbert_checkpoint
from ml_worker.ml.predict import Predictor
from tests.ml_worker.test_ml_support import single_thread, tiny_config, vocabulary, write_tiny_encoder  # noqa: F401  (single_thread: autouse fixture)

HIDDEN = 32


def chexbert_file(path: Path, *, position_ids: bool, pooler: bool = True) -> Path:
    """A CheXbert-format file: DataParallel `module.` keys, heads in CheXbert
    order, head i filled with the constant i + 1 (bias: -(i + 1))."""
    config = tiny_config(vocab_size=len(vocabulary()), hidden=HIDDEN)
    torch.manual_seed(0)
    bert = BertModel(config, add_pooling_layer=pooler)
    state = {f"module.bert.{k}": v for k, v in bert.state_dict().items()}
    if position_ids:
        state["module.bert.embeddings.position_ids"] = torch.arange(config.max_position_embeddings)[None]
    for i, obs in enumerate(CHEXBERT_ORDER):
        n = 2 if obs is Observation.NO_FINDING else 4
        state[f"module.linear_heads.{i}.weight"] = torch.full((n, HIDDEN), float(i + 1))
        state[f"module.linear_heads.{i}.bias"] = torch.full((n,), -float(i + 1))
    torch.save({"model_state_dict": state, "epoch": 7}, path)
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return write_tiny_encoder(tmp_path / "bert-base-uncased", hidden=HIDDEN)


@pytest.mark.parametrize("position_ids", [True, False])
def test_heads_land_on_the_right_observation(tmp_path: Path, config_dir: Path, position_ids: bool) -> None:
    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=position_ids)
    loaded = load_chexbert_checkpoint(path, config_dir)
    for i, obs in enumerate(CHEXBERT_ORDER):
        head = cast(torch.nn.Linear, loaded.model.linear_heads[OBSERVATIONS.index(obs)])
        assert head.weight.shape == (len(classes_for(obs)), HIDDEN)
        assert torch.all(head.weight == i + 1), obs
        assert torch.all(head.bias == -(i + 1)), obs
    # Lung Opacity is CheXbert head 2 but CheXpert column 4.
    assert torch.all(cast(torch.nn.Linear, loaded.model.linear_heads[OBSERVATIONS.index(Observation.LUNG_OPACITY)]).weight == 3)
    assert torch.all(cast(torch.nn.Linear, loaded.model.linear_heads[0]).weight == 14)  # No Finding: CheXbert's last head


def test_encoder_weights_are_loaded(tmp_path: Path, config_dir: Path) -> None:
    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=False)
    raw = torch.load(path, weights_only=True)["model_state_dict"]
    loaded = load_chexbert_checkpoint(path, config_dir)
    ours = loaded.model.state_dict()
    name = "bert.encoder.layer.1.attention.self.query.weight"
    assert torch.equal(ours[name], raw[f"module.{name}"])


def test_loaded_chexbert_predicts(tmp_path: Path, config_dir: Path) -> None:
    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=True, pooler=False)
    predictor = Predictor.from_chexbert(path, config_dir, device="cpu")
    [prediction] = predictor.predict(["Large left pleural effusion."])
    assert set(prediction.labels) == {o.value for o in OBSERVATIONS}
    assert set(prediction.probabilities["No Finding"]) == {"blank", "positive"}
    assert sum(prediction.probabilities["Edema"].values()) == pytest.approx(1.0, abs=1e-5)


def test_missing_config_dir_names_the_setting(tmp_path: Path) -> None:
    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=False)
    with pytest.raises(ChexbertConfigMissing, match="CHEXGOLD_CHEXBERT_CONFIG_DIR"):
        load_chexbert_checkpoint(path, None)
    with pytest.raises(ChexbertConfigMissing, match="does not exist"):
        load_chexbert_checkpoint(path, tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ChexbertConfigMissing, match=r"config\.json, vocab\.txt"):
        load_chexbert_checkpoint(path, empty)


def test_a_file_without_model_state_dict_is_refused(tmp_path: Path, config_dir: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="model_state_dict"):
        load_chexbert_checkpoint(path, config_dir)


def test_a_config_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = chexbert_file(tmp_path / "chexbert.pth", position_ids=False)
    wrong = write_tiny_encoder(tmp_path / "wrong", hidden=16)
    with pytest.raises(CheckpointError, match="hidden size"):
        load_chexbert_checkpoint(path, wrong)
