"""Augmenters: registry, label-preserving behaviour, back-translation skipping."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ml_worker.ml.augment import (
    AUGMENTERS,
    BACK_TRANSLATION,
    build_augmenters,
    check_back_translation,
    register_augmenter,
    sentence_shuffle,
    split_sentences,
    synonym_swap,
    xxxx_filler,
)

REPORT = (
    "The cardiac silhouette is within normal limits. There is no evidence of pneumothorax. "
    "Small left pleural effusion.\n\n1. Mild pulmonary edema. 2. Endotracheal tube in good position."
)


def words(text: str) -> list[str]:
    return sorted(re.findall(r"\w+", text.lower()))


def test_registry_lists_the_offline_augmenters() -> None:
    assert {"sentence_shuffle", "synonym_swap", "xxxx_filler"} <= set(AUGMENTERS)
    with pytest.raises(ValueError, match="already registered"):
        register_augmenter("synonym_swap")(lambda text, rng: text)


def test_sentence_shuffle_keeps_sentences_whole_and_sections_apart() -> None:
    for seed in range(10):
        out = sentence_shuffle(REPORT, random.Random(seed))
        first, second = out.split("\n\n")
        assert sorted(split_sentences(first)) == sorted(split_sentences(REPORT.split("\n\n")[0]))
        assert sorted(split_sentences(second)) == ["1. Mild pulmonary edema.", "2. Endotracheal tube in good position."]


def test_sentence_shuffle_changes_order_for_some_seed() -> None:
    assert any(sentence_shuffle(REPORT, random.Random(s)) != REPORT for s in range(10))


def test_synonym_swap_keeps_negation_and_findings() -> None:
    outputs = {synonym_swap(REPORT, random.Random(seed)) for seed in range(30)}
    assert len(outputs) > 1
    for out in outputs:
        lowered = out.lower()
        assert "no pneumothorax" in lowered or "no evidence of pneumothorax" in lowered
        assert "edema" in lowered
        assert "pleural effusion" in lowered or "pleural fluid" in lowered
        assert "mild" in lowered and "small left pleural" in lowered


def test_synonym_swap_matches_case() -> None:
    outs = {synonym_swap("Cardiomegaly.", random.Random(s)) for s in range(20)}
    assert outs == {"Cardiomegaly.", "Enlargement of the cardiac silhouette."}


def test_xxxx_filler_only_adds_a_filler_sentence() -> None:
    for seed in range(10):
        out = xxxx_filler(REPORT, random.Random(seed))
        added = words(out)
        for w in words(REPORT):
            added.remove(w)
        assert "xxxx" in added
        assert set(added) <= {"xxxx", "comparison", "dictated", "by", "views", "of", "the", "chest", "study", "dated"}
        assert out.count("\n\n") == 1


def test_back_translation_is_skipped_cleanly_when_not_configured(tmp_path: Path) -> None:
    plan = build_augmenters([BACK_TRANSLATION, "synonym_swap"])
    assert plan.names == ["synonym_swap"]
    assert plan.skipped and "not configured" in plan.skipped[0]
    reason = check_back_translation(str(tmp_path / "en-de"), str(tmp_path / "de-en"))
    assert reason is not None and "not a local MarianMT directory" in reason


def test_unknown_augmenter_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        build_augmenters(["mixup"])


def test_plan_applies_with_probability() -> None:
    plan = build_augmenters(["xxxx_filler"])
    rng = random.Random(0)
    changed = sum(plan.apply("No effusion. Lungs are clear.", rng, 0.5) != "No effusion. Lungs are clear." for _ in range(200))
    assert 60 < changed < 140
    assert plan.apply("Lungs are clear.", rng, 0.0) == "Lungs are clear."


def test_back_translator_round_trips_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from ml_worker.ml.augment import BackTranslator

    translator = BackTranslator("en-de-dir", "de-en-dir")
    calls: list[tuple[str, list[str]]] = []

    def fake_translate(pair: str, texts: list[str]) -> list[str]:
        calls.append((pair, list(texts)))
        return [f"{t}|{pair}" for t in texts]

    monkeypatch.setattr(translator, "_load", lambda: ("de", "en"))
    monkeypatch.setattr(translator, "_translate", fake_translate)
    translator.translate_many(["No effusion.", "Lungs are clear.", "No effusion."])
    assert calls == [("de", ["No effusion.", "Lungs are clear."]), ("en", ["No effusion.|de", "Lungs are clear.|de"])]
    assert translator("No effusion.", random.Random(0)) == "No effusion.|de|en"
    assert len(calls) == 2


def test_headings_stay_in_front_of_their_section() -> None:
    text = "INDICATION: Cough.\nFINDINGS: Heart size is normal. No effusion. Lungs are clear.\nIMPRESSION: Normal chest."
    for seed in range(10):
        for augment in (sentence_shuffle, xxxx_filler):
            lines = augment(text, random.Random(seed)).split("\n")
            assert [line.split(":")[0] for line in lines] == ["INDICATION", "FINDINGS", "IMPRESSION"]
