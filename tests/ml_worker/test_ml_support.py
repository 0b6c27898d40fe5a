"""A tiny randomly initialised BERT and a tiny labelled report set for the ML tests.

Helpers are imported by the other test_ml_* modules; the tests here check the
helpers themselves.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig, BertModel, BertTokenizer  # noqa: E402

from labeling.observations import LabelDict, blank_labels  # noqa: E402

# (sentence, {observation: value}) written for these tests.
SENTENCES: list[tuple[str, dict[str, str]]] = [
    ("Large left pleural effusion.", {"Pleural Effusion": "positive"}),
    ("Small right pleural effusion.", {"Pleural Effusion": "positive"}),
    ("Moderate bilateral pleural effusions.", {"Pleural Effusion": "positive"}),
    ("There is a small left effusion.", {"Pleural Effusion": "positive"}),
    ("No pleural effusion.", {"Pleural Effusion": "negative"}),
    ("There is no effusion.", {"Pleural Effusion": "negative"}),
    ("Heart size is normal.", {}),
    ("Lungs are clear.", {}),
    ("Mild cardiomegaly.", {"Cardiomegaly": "positive"}),
    ("No pneumothorax.", {"Pneumothorax": "negative"}),
    ("Right lower lobe consolidation.", {"Consolidation": "positive"}),
    ("Possible early pneumonia.", {"Pneumonia": "uncertain"}),
    ("Endotracheal tube in good position.", {"Support Devices": "positive"}),
    ("The mediastinum is unremarkable.", {}),
]

EXTRA_WORDS = ["findings", "impression", "indication", "comparison", "none", "xxxx", "chest", ":"]


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> object:
    """Tiny models gain nothing from several threads, and on a shared 2-core
    machine OpenMP threads waiting on each other make them many times slower.
    Test modules import this fixture to make it apply to them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_examples(n: int, seed: int = 0) -> list[tuple[str, LabelDict]]:
    """`n` reports of 1-3 sentences with FINDINGS/IMPRESSION headings half the time.

    Conflicting sentences about the same observation are never combined.
    """
    rng = random.Random(seed)
    examples: list[tuple[str, LabelDict]] = []
    while len(examples) < n:
        chosen = rng.sample(SENTENCES, rng.randint(1, 3))
        observations = [o for _, labels in chosen for o in labels]
        if len(observations) != len(set(observations)):
            continue
        labels = blank_labels()
        for _, sentence_labels in chosen:
            labels.update(sentence_labels)
        if all(v == "blank" for k, v in labels.items()):
            labels["No Finding"] = "positive"
        body = " ".join(s for s, _ in chosen)
        if rng.random() < 0.5:
            text = f"INDICATION: Chest pain.\nFINDINGS: {body}\nIMPRESSION: {chosen[0][0]}"
        else:
            text = body
        examples.append((text, labels))
    return examples


def vocabulary() -> list[str]:
    words: set[str] = set(EXTRA_WORDS)
    for sentence, _ in SENTENCES:
        words.update(re.findall(r"[a-z]+|[^\sa-z]", sentence.lower()))
    words.update(re.findall(r"[a-z]+|[^\sa-z]", "INDICATION: Chest pain. FINDINGS: IMPRESSION:".lower()))
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]


def write_tiny_encoder(directory: Path, *, seed: int = 0, hidden: int = 32) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) + tokenizer, saved as a
    Hugging Face directory."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary()) + "\n", encoding="utf-8")
    # transformers 5: BertTokenizer is the fast (Rust) tokenizer; from_pretrained
    # on a directory holding only vocab.txt builds it.
    BertTokenizer.from_pretrained(directory, do_lower_case=True).save_pretrained(directory)
    config = tiny_config(vocab_size=len(vocabulary()), hidden=hidden)
    torch.manual_seed(seed)
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    return directory


def tiny_config(*, vocab_size: int, hidden: int = 32) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )


def test_tiny_encoder_tokenizes_every_test_word(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    encoder = write_tiny_encoder(tmp_path / "enc")
    tokenizer = AutoTokenizer.from_pretrained(encoder, local_files_only=True)
    for text, _ in make_examples(20):
        assert tokenizer.unk_token_id not in tokenizer(text)["input_ids"], text


def test_examples_have_consistent_labels() -> None:
    examples = make_examples(30, seed=1)
    assert len(examples) == 30
    assert any(labels["Pleural Effusion"] == "positive" for _, labels in examples)
    assert any(labels["Pleural Effusion"] == "negative" for _, labels in examples)
