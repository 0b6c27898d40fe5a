"""Label-preserving text augmentation for training reports.

An augmenter is a named function ``(text, rng) -> text`` registered in
`AUGMENTERS`. It receives the text the model reads (sections already selected;
sections separated by blank lines) and must not change any CheXpert label of
it: no negation, hedge or finding may be added, removed or moved out of its
sentence.

Back-translation (English -> German -> English with local MarianMT models) needs
model directories and is built by `build_augmenters` from the training config;
it is skipped, with a reason, when they are not configured.

A *teacher* is a labeler that can label any text (in the silver stage, the rule
labeler the model learns from). With a teacher every augmented text is
re-labelled, which makes label-changing augmentations possible: `sentence_mix`
splices sentences of other training reports into a report, favouring sentences
whose labels are rare, so a small silver set shows the model its rare phrasings
(pleural thickening, hedged atelectasis, old fractures) many more times.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labeling.observations import LabelDict, LabelValue, Observation

logger = logging.getLogger(__name__)

Augmenter = Callable[[str, random.Random], str]

AUGMENTERS: dict[str, Augmenter] = {}

BACK_TRANSLATION = "back_translation"
SENTENCE_MIX = "sentence_mix"
# Augmenters that exist only with a teacher (they change labels).
TEACHER_AUGMENTERS = (SENTENCE_MIX,)

Teacher = Callable[[Sequence[str]], list[LabelDict]]


def rules_teacher(texts: Sequence[str]) -> list[LabelDict]:
    """The rule labeler as a teacher. It reads what the model reads: text whose
    sections were already selected (`data.model_text`), so it labels all of it
    ("full"); on unaugmented text that reproduces the silver labels exactly."""
    from labeling.rules import label_reports

    return [r.labels for r in label_reports(texts, section="full")]


TEACHERS: dict[str, Teacher] = {"rules": rules_teacher}


def register_augmenter(name: str) -> Callable[[Augmenter], Augmenter]:
    """Decorator: make `fn` available as `name` in TrainingConfig.augmentations."""

    def decorate(fn: Augmenter) -> Augmenter:
        if name in AUGMENTERS or name in (BACK_TRANSLATION, *TEACHER_AUGMENTERS):
            raise ValueError(f"augmenter {name!r} is already registered")
        AUGMENTERS[name] = fn
        return fn

    return decorate


def available_augmenters() -> list[str]:
    return sorted([*AUGMENTERS, BACK_TRANSLATION, *TEACHER_AUGMENTERS])


# --- sentence shuffling ------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
_LIST_NUMBER = re.compile(r"^\(?\d{1,2}[.)]$")


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; a bare list number ("1.") stays with the
    sentence it numbers."""
    parts = [p for p in _SENTENCE_END.split(paragraph.strip()) if p]
    sentences: list[str] = []
    carry = ""
    for part in parts:
        if _LIST_NUMBER.match(part):
            carry = f"{carry}{part} "
            continue
        sentences.append(carry + part)
        carry = ""
    if carry:
        sentences.append(carry.strip())
    return sentences


_HEADING_PREFIX = re.compile(r"^\s*[A-Z][A-Z /]{2,40}:\s*")


def _split_heading(block: str) -> tuple[str, str]:
    """("FINDINGS: ", "rest") for a block that starts with an upper-case heading."""
    match = _HEADING_PREFIX.match(block)
    return (match.group(0), block[match.end() :]) if match else ("", block)


def edit_one_paragraph(text: str, rng: random.Random, edit: Callable[[list[str]], None]) -> str:
    """Apply `edit` (in place) to the sentences of one paragraph chosen at
    random; its heading ("FINDINGS:") and the other paragraphs stay as they are."""
    blocks = re.split(r"(\n\s*\n|\n)", text)
    paragraphs = [i for i, b in enumerate(blocks) if b and not b.isspace()]
    if not paragraphs:
        return text
    index = rng.choice(paragraphs)
    heading, body = _split_heading(blocks[index])
    sentences = split_sentences(body)
    edit(sentences)
    blocks[index] = heading + " ".join(sentences)
    return "".join(blocks)


@register_augmenter("sentence_shuffle")
def sentence_shuffle(text: str, rng: random.Random) -> str:
    """Shuffle sentences within each paragraph/section (never across sections).

    CheXpert labels are per report, so sentence order does not change them.
    Paragraphs are blocks separated by blank lines or single newlines; a
    heading that starts a paragraph ("FINDINGS:") stays in front.
    """
    blocks = re.split(r"(\n\s*\n|\n)", text)
    out = []
    for block in blocks:
        if not block or block.isspace():
            out.append(block)
            continue
        heading, body = _split_heading(block)
        sentences = split_sentences(body)
        if len(sentences) > 1:
            rng.shuffle(sentences)
        out.append(heading + " ".join(sentences))
    return "".join(out)


# --- synonym swaps -----------------------------------------------------------

# Phrase -> replacements that name the same finding with the same certainty.
# One-directional where the reverse would be unsafe (e.g. "pulmonary edema" ->
# "edema" is fine, "edema" -> "pulmonary edema" is not: soft-tissue edema).
LABEL_PRESERVING_SYNONYMS: dict[str, tuple[str, ...]] = {
    "cardiac silhouette": ("heart silhouette", "cardiac shadow"),
    "heart silhouette": ("cardiac silhouette",),
    "heart size": ("cardiac size",),
    "cardiac size": ("heart size",),
    "cardiomegaly": ("enlargement of the cardiac silhouette",),
    "pulmonary edema": ("edema",),
    "pleural effusion": ("pleural fluid",),
    "pleural effusions": ("pleural fluid collections",),
    "opacity": ("opacification",),
    "endotracheal tube": ("ET tube",),
    "nasogastric tube": ("NG tube",),
    "no evidence of": ("no",),
    "within normal limits": ("normal",),
    "lungs are clear": ("lungs are well aerated and clear",),
}
_SYNONYM_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(LABEL_PRESERVING_SYNONYMS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def _match_case(original: str, replacement: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


@register_augmenter("synonym_swap")
def synonym_swap(text: str, rng: random.Random) -> str:
    """Replace each listed radiology phrase, with probability 1/2, by a synonym
    of the same finding and certainty (`LABEL_PRESERVING_SYNONYMS`)."""

    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        if rng.random() < 0.5:
            return found
        choices = LABEL_PRESERVING_SYNONYMS[found.lower()]
        return _match_case(found, rng.choice(choices))

    return _SYNONYM_PATTERN.sub(swap, text)


# --- de-identification filler ----------------------------------------------------

# Sentences that mention no finding, in the style of de-identified Open-i text.
FILLER_SENTENCES: tuple[str, ...] = (
    "XXXX XXXX.",
    "Comparison XXXX.",
    "Dictated by XXXX.",
    "XXXX views of the chest.",
    "Study dated XXXX.",
)


@register_augmenter("xxxx_filler")
def xxxx_filler(text: str, rng: random.Random) -> str:
    """Insert one finding-free filler sentence ("XXXX XXXX.") between two
    sentences of one paragraph, so the model learns to ignore de-identification
    tokens. Never inside a sentence, so no negation or hedge scope changes."""

    def insert_filler(sentences: list[str]) -> None:
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(FILLER_SENTENCES))

    return edit_one_paragraph(text, rng, insert_filler)


# --- sentence mixing (needs a teacher) -------------------------------------------


def _paragraph_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n", text):
        if block and not block.isspace():
            sentences.extend(split_sentences(_split_heading(block)[1]))
    return sentences


_LEADING_LIST_NUMBER = re.compile(r"^\(?\d{1,2}[.)]\s+")


def _label_keys(labels: LabelDict) -> set[tuple[str, str]]:
    """What a sentence asserts: (observation, value) for every non-blank label
    except No Finding (which follows from the others)."""
    return {
        (name, value)
        for name, value in labels.items()
        if value != LabelValue.BLANK.value and name != Observation.NO_FINDING.value
    }


@dataclass
class SentenceMixer:
    """Splice one or two sentences from a pool into a report (sometimes
    dropping one of its own), then let the teacher label the result.

    Pool sentences are drawn with weight 1/sqrt(n), n being how many pool
    sentences assert the sentence's rarest (observation, value) pair, so an
    "old rib fracture" sentence is drawn far more often than "The lungs are
    clear." — while the spliced report stays a realistic report.
    """

    pool: list[str]
    cumulative_weights: list[float]

    @classmethod
    def from_texts(cls, texts: Sequence[str], teacher: Teacher) -> SentenceMixer:
        # A list number ("2.") would be out of place where the sentence lands.
        stripped = (_LEADING_LIST_NUMBER.sub("", s).strip() for t in texts for s in _paragraph_sentences(t))
        sentences = list(dict.fromkeys(s for s in stripped if s))
        keys = [_label_keys(labels) or {("none", "")} for labels in teacher(sentences)] if sentences else []
        counts = Counter(k for ks in keys for k in ks)
        weights = [max(counts[k] ** -0.5 for k in ks) for ks in keys]
        cumulative, total = [], 0.0
        for w in weights:
            total += w
            cumulative.append(total)
        return cls(pool=sentences, cumulative_weights=cumulative)

    def __call__(self, text: str, rng: random.Random) -> str:
        if not self.pool:
            return text

        def splice(sentences: list[str]) -> None:
            if len(sentences) > 1 and rng.random() < 0.25:
                sentences.pop(rng.randrange(len(sentences)))
            for picked in rng.choices(self.pool, cum_weights=self.cumulative_weights, k=rng.choice((1, 1, 2))):
                sentences.insert(rng.randint(0, len(sentences)), picked)

        return edit_one_paragraph(text, rng, splice)


# --- back-translation ------------------------------------------------------------


@dataclass
class BackTranslator:
    """English -> German -> English with two local MarianMT directories.

    Translations are cached per text, so each training text is translated at
    most once per run. Loading needs `sentencepiece` (MarianTokenizer).
    """

    en_de_dir: str
    de_en_dir: str
    device: str = "cpu"
    max_length: int = 512
    _cache: dict[str, str] = field(default_factory=dict, repr=False)
    _models: tuple | None = field(default=None, repr=False)

    def _load(self) -> tuple:
        if self._models is None:
            from transformers import MarianMTModel, MarianTokenizer

            loaded = []
            for d in (self.en_de_dir, self.de_en_dir):
                tok = MarianTokenizer.from_pretrained(d, local_files_only=True)
                model = MarianMTModel.from_pretrained(d, local_files_only=True)
                model.to(self.device)  # type: ignore[arg-type]
                model.eval()
                loaded.append((tok, model))
            self._models = tuple(loaded)
        return self._models

    def _translate(self, pair: tuple, texts: list[str]) -> list[str]:
        import torch

        tok, model = pair
        batch = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
        with torch.inference_mode():
            out = model.generate(**batch.to(self.device), num_beams=1, max_new_tokens=self.max_length)
        return tok.batch_decode(out, skip_special_tokens=True)

    def translate_many(self, texts: Sequence[str], batch_size: int = 16) -> None:
        """Fill the cache for `texts` in batches (faster than one at a time)."""
        en_de, de_en = self._load()
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            back = self._translate(de_en, self._translate(en_de, chunk))
            self._cache.update(zip(chunk, back, strict=True))

    def __call__(self, text: str, rng: random.Random) -> str:
        if text not in self._cache:
            self.translate_many([text])
        return self._cache[text] or text


def check_back_translation(en_de_dir: str | None, de_en_dir: str | None) -> str | None:
    """None when back-translation can run, else the reason it is skipped."""
    if not en_de_dir or not de_en_dir:
        return "back-translation skipped: back_translation_en_de_dir/back_translation_de_en_dir not configured"
    for d in (en_de_dir, de_en_dir):
        if not (Path(d) / "config.json").is_file():
            return f"back-translation skipped: {d} is not a local MarianMT directory (no config.json)"
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        return "back-translation skipped: the sentencepiece package (needed by MarianTokenizer) is not installed"
    return None


@dataclass
class AugmentationPlan:
    """The augmenters a run uses, and what was skipped and why."""

    names: list[str]
    augmenters: list[Augmenter]
    skipped: list[str]
    # Labels every augmented text when set (silver stage); None: augmenters
    # must preserve labels.
    teacher: Teacher | None = None

    def apply(self, text: str, rng: random.Random, probability: float) -> str:
        """With `probability`, apply one augmenter chosen at random."""
        if not self.augmenters or rng.random() >= probability:
            return text
        augmented = rng.choice(self.augmenters)(text, rng)
        return augmented if augmented.strip() else text


def build_augmenters(
    names: Sequence[str],
    *,
    back_translation_en_de_dir: str | None = None,
    back_translation_de_en_dir: str | None = None,
    device: str = "cpu",
    teacher: Teacher | None = None,
    pool_texts: Sequence[str] = (),
) -> AugmentationPlan:
    """Resolve augmenter names; raises ValueError on an unknown name.

    `teacher` and `pool_texts` (the training texts) are needed by
    `sentence_mix`, which is skipped, with a reason, without a teacher."""
    chosen: list[Augmenter] = []
    used: list[str] = []
    skipped: list[str] = []
    for name in names:
        if name == SENTENCE_MIX:
            if teacher is None:
                needs_teacher = "sentence_mix skipped: it needs a teacher labeler (silver stage with teacher='rules')"
                logger.warning(needs_teacher)
                skipped.append(needs_teacher)
                continue
            chosen.append(SentenceMixer.from_texts(pool_texts, teacher))
        elif name == BACK_TRANSLATION:
            reason = check_back_translation(back_translation_en_de_dir, back_translation_de_en_dir)
            if reason:
                logger.warning(reason)
                skipped.append(reason)
                continue
            chosen.append(
                BackTranslator(str(back_translation_en_de_dir), str(back_translation_de_en_dir), device=device)
            )
        elif name in AUGMENTERS:
            chosen.append(AUGMENTERS[name])
        else:
            raise ValueError(f"unknown augmentation {name!r}; available: {available_augmenters()}")
        used.append(name)
    return AugmentationPlan(names=used, augmenters=chosen, skipped=skipped, teacher=teacher)
