"""Loading the original CheXbert checkpoint (Smit et al., 2020).

The published file is a torch pickle with ``model_state_dict`` whose keys are
``module.bert.*`` (a BERT-base encoder wrapped in DataParallel) and
``module.linear_heads.{0..13}.{weight,bias}`` in CheXbert's head order
(`labeling.observations.CHEXBERT_ORDER`: Lung Opacity before Lung Lesion, No
Finding last). It holds no config or vocabulary, so the user supplies a
bert-base-uncased directory (``config.json`` + ``vocab.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertTokenizer

from labeling.observations import CHEXBERT_ORDER, OBSERVATIONS

from .checkpoints import CheckpointError, CheckpointManifest, LoadedModel
from .modeling import ChexbertModel

CONFIG_SETTING = "CHEXGOLD_CHEXBERT_CONFIG_DIR"


class ChexbertConfigMissing(CheckpointError):
    """The BERT-base config/vocabulary directory needed by the original checkpoint is absent."""


def _check_config_dir(config_dir: str | os.PathLike[str] | None) -> Path:
    hint = (
        "The original CheXbert checkpoint contains only weights; point the setting "
        f"{CONFIG_SETTING} at a bert-base-uncased directory holding config.json and "
        "vocab.txt (any Hugging Face bert-base-uncased download)."
    )
    if config_dir is None or str(config_dir) == "":
        raise ChexbertConfigMissing(f"No BERT-base config directory given. {hint}")
    path = Path(config_dir)
    if not path.is_dir():
        raise ChexbertConfigMissing(f"BERT-base config directory {path} does not exist. {hint}")
    missing = [name for name in ("config.json",) if not (path / name).is_file()]
    if not ((path / "vocab.txt").is_file() or (path / "tokenizer.json").is_file()):
        missing.append("vocab.txt")
    if missing:
        raise ChexbertConfigMissing(
            f"BERT-base config directory {path} lacks {', '.join(missing)}. {hint}"
        )
    return path


def convert_chexbert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    *,
    expected_keys: set[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Rename an original CheXbert state dict to `ChexbertModel` keys.

    Strips ``module.``, moves head *i* (CheXbert order) to the head of the same
    observation in CheXpert order, and drops keys the model does not have
    (``bert.embeddings.position_ids``, the unused pooler) when `expected_keys`
    is given.
    """
    chexbert_to_ours = {i: OBSERVATIONS.index(obs) for i, obs in enumerate(CHEXBERT_ORDER)}
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key[len("module.") :] if key.startswith("module.") else key
        if name.startswith("linear_heads."):
            _, index, rest = name.split(".", 2)
            name = f"linear_heads.{chexbert_to_ours[int(index)]}.{rest}"
        converted[name] = value
    if expected_keys is not None:
        droppable = ("bert.embeddings.position_ids", "bert.embeddings.token_type_ids", "bert.pooler.")
        converted = {
            k: v for k, v in converted.items() if k in expected_keys or not k.startswith(droppable)
        }
    return converted


def load_chexbert_checkpoint(
    checkpoint_path: str | os.PathLike[str],
    config_dir: str | os.PathLike[str] | None,
    *,
    device: str | torch.device = "cpu",
    section_mode: str = "auto",
) -> LoadedModel:
    """Load the original CheXbert weights into a `ChexbertModel` (eval mode).

    `config_dir` is a bert-base-uncased directory (config.json + vocab.txt);
    ChexbertConfigMissing says what is missing. CheckpointError for a file that
    is not a CheXbert checkpoint or does not fit the config.
    """
    config_path = _check_config_dir(config_dir)
    path = Path(checkpoint_path)
    if not path.is_file():
        raise CheckpointError(f"CheXbert checkpoint {path} does not exist")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code objects, a truncated file...
        raise CheckpointError(f"{path} could not be read as a torch checkpoint: {exc}") from exc
    state = raw.get("model_state_dict") if isinstance(raw, dict) else None
    if state is None:
        raise CheckpointError(f"{path} has no 'model_state_dict'; is it the CheXbert checkpoint?")

    config = BertConfig.from_pretrained(config_path, local_files_only=True)
    model = ChexbertModel.from_config(config)
    expected = set(model.state_dict())
    converted = convert_chexbert_state_dict(state, expected_keys=expected)
    for name in ("linear_heads.0.weight", "linear_heads.13.weight"):
        if name in converted and converted[name].shape[-1] != config.hidden_size:
            raise CheckpointError(
                f"{path}: heads expect hidden size {converted[name].shape[-1]} but "
                f"{config_path}/config.json says {config.hidden_size}"
            )
    try:
        missing, unexpected = model.load_state_dict(converted, strict=False)
    except RuntimeError as exc:  # shape mismatch
        raise CheckpointError(f"{path} does not fit the config in {config_path}: {exc}") from exc
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not fit a CheXbert model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    model.to(device)
    model.eval()
    manifest = CheckpointManifest(
        base_encoder=f"chexbert:{path.name}",
        section_mode=section_mode,
        max_length=512,
        data_provenance={"source": "original CheXbert checkpoint", "file": str(path)},
    )
    return LoadedModel(model=model, tokenizer=_tokenizer(config_path), manifest=manifest, path=None)


def _tokenizer(config_path: Path):
    try:
        return AutoTokenizer.from_pretrained(config_path, local_files_only=True)
    except Exception:
        # A bare config.json + vocab.txt without tokenizer_config.json.
        return BertTokenizer.from_pretrained(config_path, local_files_only=True, do_lower_case=True)
