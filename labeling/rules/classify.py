"""Classification of one mention as positive, negative or uncertain.

Rules, first match wins (CheXpert's order):

1. pre-negation uncertainty: "cannot exclude X", "X is not ruled out", and a
   hedged negation followed by a contrast: "no definite X, but ...";
2. negation: "no X", "without X", "X is normal", "X has resolved";
3. uncertainty: "possible X", "X versus Y", "X may be present";
4. otherwise positive.

A cue applies only inside the mention's clause (sentence cut at terminators
such as "but", "however", ";"). A *before* cue applies to mentions after it
(or to a cue word inside a gapped mention: "heart is not enlarged"); an *after*
cue applies to mentions before it. ``@N`` on a cue limits the number of words
between cue and mention; after-cues reach at most ``AFTER_REACH`` words by
default and cross a comma only in a list that has "and"/"or" ("heart size,
mediastinum, and hila are normal" but not "cardiomegaly, lungs are clear").
Cues overlapping a pseudo-cue ("no change", "not only") are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labeling.observations import LabelValue
from labeling.rules.phrases import PhraseMatch
from labeling.rules.text import word_count

AFTER_REACH = 8
# A conditional ("if there is concern for fracture, consider ...") ends at a
# comma or at "then"; the main clause after it is an ordinary statement.
_CONDITION_END = re.compile(r",|\bthen\b")
_LIST_JOINER = re.compile(r"\b(?:and|or)\b")
# A hedged negation ("no definite X") turns uncertain when the sentence goes on
# with a contrast: "no definite effusion, although the angle is blunted".
CONTRAST = re.compile(r"\b(?:but|although|though|however|yet)\b")


@dataclass(frozen=True)
class CueSet:
    """Cue matches of one sentence, by kind, pseudo-cue overlaps removed."""

    pre_negation_before: list[PhraseMatch]
    pre_negation_after: list[PhraseMatch]
    negation_before: list[PhraseMatch]
    negation_after: list[PhraseMatch]
    uncertainty_before: list[PhraseMatch]
    uncertainty_after: list[PhraseMatch]
    hedged_negation: list[PhraseMatch]


def _before(low: str, cues: list[PhraseMatch], start: int, end: int, clause: tuple[int, int]) -> PhraseMatch | None:
    """The nearest cue before the mention [start, end) (or inside it) in the clause."""
    best: PhraseMatch | None = None
    cs, _ = clause
    for cue in cues:
        if cue.start < cs or cue.end > end:
            continue
        if cue.end <= start:
            if cue.entry.reach is not None and word_count(low, cue.end, start) > cue.entry.reach:
                continue
        elif cue.start < start:
            continue  # straddles the mention's first word: not a cue for it
        if best is None or cue.start > best.start:
            best = cue
    return best


def _after(low: str, cues: list[PhraseMatch], start: int, end: int, clause: tuple[int, int]) -> PhraseMatch | None:
    """The nearest cue after the mention [start, end) in the clause."""
    best: PhraseMatch | None = None
    _, ce = clause
    for cue in cues:
        if cue.start < end or cue.end > ce:
            continue
        reach = cue.entry.reach if cue.entry.reach is not None else AFTER_REACH
        between = low[end : cue.start]
        if word_count(low, end, cue.start) > reach:
            continue
        if "," in between and not _LIST_JOINER.search(between):
            continue
        if best is None or cue.start < best.start:
            best = cue
    return best


def in_condition(low: str, start: int, clause: tuple[int, int], conditionals: list[PhraseMatch]) -> bool:
    """Whether the mention starting at `start` lies inside a conditional of its
    clause ("if there is concern for fracture consider rib films"): it states
    what to do in a hypothetical case, nothing about the image, and is ignored.
    """
    cs, _ = clause
    for cue in conditionals:
        if cs <= cue.start and cue.end <= start and not _CONDITION_END.search(low, cue.end, start):
            return True
    return False


def classify_mention(
    low: str, start: int, end: int, clause: tuple[int, int], sentence_end: int, cues: CueSet
) -> tuple[LabelValue, PhraseMatch | None]:
    """Value of the mention ``low[start:end]`` and the cue that decided it."""
    cue = _before(low, cues.pre_negation_before, start, end, clause) or _after(
        low, cues.pre_negation_after, start, end, clause
    )
    if cue:
        return LabelValue.UNCERTAIN, cue
    cue = _before(low, cues.hedged_negation, start, end, clause)
    if cue:
        if CONTRAST.search(low, end, sentence_end):
            return LabelValue.UNCERTAIN, cue
        return LabelValue.NEGATIVE, cue
    cue = _before(low, cues.negation_before, start, end, clause) or _after(
        low, cues.negation_after, start, end, clause
    )
    if cue:
        return LabelValue.NEGATIVE, cue
    cue = _before(low, cues.uncertainty_before, start, end, clause) or _after(
        low, cues.uncertainty_after, start, end, clause
    )
    if cue:
        return LabelValue.UNCERTAIN, cue
    return LabelValue.POSITIVE, None
