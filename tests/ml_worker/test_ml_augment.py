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


# --- teacher-labelled augmentation -------------------------------------------------

POOL = [
    "Heart size is normal. The lungs are clear.",
    "No pneumothorax. Old healed left rib fracture.",
    "No pleural effusion. The lungs are clear.",
    "2. Small right apical pleural thickening. No pneumothorax.",
    "There is no pneumothorax. No visible pneumothorax.",
]


def test_rules_teacher_labels_model_text_like_the_silver_labels() -> None:
    from labeling.rules import label_report
    from ml_worker.ml.augment import rules_teacher
    from ml_worker.ml.data import model_text

    report = "INDICATION: Rule out pneumonia.\n\nFINDINGS: No effusion.\n\nIMPRESSION: Mild cardiomegaly."
    assert rules_teacher([model_text(report, "auto")]) == [label_report(report).labels]


def test_sentence_mix_draws_rare_label_sentences_more_often() -> None:
    from ml_worker.ml.augment import SentenceMixer, rules_teacher

    mixer = SentenceMixer.from_texts(POOL, rules_teacher)
    # Unique sentences, list numbers stripped.
    assert "The lungs are clear." in mixer.pool and mixer.pool.count("The lungs are clear.") == 1
    assert "Small right apical pleural thickening." in mixer.pool
    drawn = random.Random(0).choices(mixer.pool, cum_weights=mixer.cumulative_weights, k=4000)
    # Three pool sentences say "no pneumothorax", one names a fracture.
    assert drawn.count("Old healed left rib fracture.") > drawn.count("No pneumothorax.")


def test_sentence_mix_splices_whole_sentences_into_one_paragraph() -> None:
    from ml_worker.ml.augment import SentenceMixer, rules_teacher

    mixer = SentenceMixer.from_texts(POOL, rules_teacher)
    text = "Heart size is normal.\n\nNo acute disease."
    outputs = {mixer(text, random.Random(seed)) for seed in range(40)}
    assert len(outputs) > 5
    for out in outputs:
        assert out.count("\n\n") == 1  # paragraphs kept
        added = [s for p in out.split("\n\n") for s in split_sentences(p)]
        assert set(added) - {"Heart size is normal.", "No acute disease."} <= set(mixer.pool)


def test_sentence_mix_needs_a_teacher() -> None:
    plan = build_augmenters(["sentence_mix", "sentence_shuffle"], pool_texts=POOL)
    assert plan.names == ["sentence_shuffle"]
    assert plan.teacher is None
    assert any("needs a teacher" in reason for reason in plan.skipped)
    assert "sentence_mix" in __import__("ml_worker.ml.augment", fromlist=["available_augmenters"]).available_augmenters()
