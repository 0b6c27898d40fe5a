"""All phrase lists of the rule labeler, compiled once per process.

Files under ``phrases/`` (format: ``phrases.py``):

- ``<observation slug>.txt`` for the 13 findings (not No Finding):
  ``[mention]`` phrases that name the finding;
  ``[anchor]`` neutral subjects ("heart size", "mediastinum") that count only
  when a negation or uncertainty cue applies ("heart size is normal");
  ``[unmention]`` phrases that suppress an overlapping mention or anchor
  ("pericardial effusion" for Pleural Effusion);
  ``[implied_by]`` phrases whose positive or uncertain mention adds an
  uncertain mention of this observation ("chf" for Cardiomegaly).
- ``other_findings.txt``: abnormalities outside the 14 that stop No Finding.
- ``negation.txt``, ``uncertainty.txt``: cues (see ``classify``);
  ``uncertainty.txt [hypothetical]``: conditionals ("if") whose mentions are
  ignored (``classify.in_condition``).
- ``pseudo_cues.txt``: look-alikes that are not cues ("no change").
- ``clause_terminators.txt``: ``[terminator]`` where a cue's scope ends
  ("but", ";"); ``[exception]`` phrases in which a terminator word does not
  end a clause ("consistent with", "does not show").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from labeling.observations import Observation
from labeling.rules.phrases import PhraseEntry, PhraseIndex, load_entries

OTHER_FINDINGS = "other findings"  # key of other_findings.txt entries

FINDING_OBSERVATIONS: tuple[Observation, ...] = tuple(
    o for o in Observation if o is not Observation.NO_FINDING
)

OBSERVATION_SECTIONS = ("mention", "anchor", "unmention", "implied_by")
NEGATION_SECTIONS = ("before", "after")
UNCERTAINTY_SECTIONS = (
    "pre_negation_before", "pre_negation_after", "hedged_negation", "before", "after", "list_before", "hypothetical",
    "history",
)

# Entry kinds after loading (PhraseEntry.section values used by the labeler).
MENTION, ANCHOR, UNMENTION, IMPLIED_BY = OBSERVATION_SECTIONS
# The cues that classify a mention (negated / uncertain), in the order the labeler checks them.
CLASSIFYING_CUE_KINDS = (
    "pre_negation_before",
    "pre_negation_after",
    "negation_before",
    "negation_after",
    "uncertainty_before",
    "uncertainty_after",
    "hedged_negation",
)
CUE_KINDS = (*CLASSIFYING_CUE_KINDS, "hypothetical", "pseudo", "terminator", "terminator_exception")


@dataclass(frozen=True)
class Lexicon:
    index: PhraseIndex
    entry_count: int


_lock = threading.Lock()
_lexicon: Lexicon | None = None


def _renamed(entries: list[PhraseEntry], section: str, key: str) -> list[PhraseEntry]:
    return [replace(e, section=section, key=key) for e in entries]


def build_lexicon() -> Lexicon:
    entries: list[PhraseEntry] = []
    for obs in FINDING_OBSERVATIONS:
        loaded = load_entries(f"{obs.slug}.txt", key=obs.value, sections=OBSERVATION_SECTIONS)
        for section in OBSERVATION_SECTIONS:
            entries += loaded[section]
    other = load_entries("other_findings.txt", key=OTHER_FINDINGS, sections=("mention", "unmention"))
    entries += other["mention"] + other["unmention"]
    neg = load_entries("negation.txt", key="negation", sections=NEGATION_SECTIONS)
    entries += _renamed(neg["before"], "negation_before", "cue")
    entries += _renamed(neg["after"], "negation_after", "cue")
    unc = load_entries("uncertainty.txt", key="uncertainty", sections=UNCERTAINTY_SECTIONS)
    entries += _renamed(unc["pre_negation_before"], "pre_negation_before", "cue")
    entries += _renamed(unc["pre_negation_after"], "pre_negation_after", "cue")
    entries += _renamed(unc["hedged_negation"], "hedged_negation", "cue")
    entries += _renamed(unc["before"], "uncertainty_before", "cue")
    entries += _renamed(unc["after"], "uncertainty_after", "cue")
    entries += _renamed(unc["list_before"], "uncertainty_list", "cue")
    entries += _renamed(unc["hypothetical"], "hypothetical", "cue")
    # Clinical history, like a conditional, says nothing about this image.
    entries += _renamed(unc["history"], "hypothetical", "cue")
    pseudo = load_entries("pseudo_cues.txt", key="pseudo", sections=("pseudo",))
    entries += _renamed(pseudo["pseudo"], "pseudo", "cue")
    term = load_entries("clause_terminators.txt", key="terminator", sections=("terminator", "exception"))
    entries += _renamed(term["terminator"], "terminator", "cue")
    entries += _renamed(term["exception"], "terminator_exception", "cue")
    return Lexicon(PhraseIndex(entries), len(entries))


def get_lexicon() -> Lexicon:
    """The process-wide compiled lexicon (built on first use, thread-safe)."""
    global _lexicon
    if _lexicon is None:
        with _lock:
            if _lexicon is None:
                _lexicon = build_lexicon()
    return _lexicon
