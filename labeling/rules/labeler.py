"""The rule labeler: report text -> 14 CheXpert labels with evidence.

Pipeline: choose the spans to read (``labeling.sections.spans_for_mode``) ->
lower-case without moving offsets -> split sentences -> find every phrase of
every list in one pass per sentence -> cut sentences into clauses at
terminators -> drop mentions overlapped by an unmention -> classify each
mention (``classify``) -> aggregate per observation (``aggregate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from labeling.observations import OBSERVATIONS, LabelDict, LabelValue, Observation
from labeling.rules.aggregate import aggregate_values, no_finding_value
from labeling.rules.classify import CONTRAST, CueSet, classify_mention, in_condition
from labeling.rules.lexicon import ANCHOR, CLASSIFYING_CUE_KINDS, IMPLIED_BY, MENTION, OTHER_FINDINGS, UNMENTION, get_lexicon
from labeling.rules.phrases import PhraseMatch
from labeling.rules.text import ClauseIndex, has_words, lower_same_length, split_sentences
from labeling.sections import SectionMode, spans_for_mode

RULES_VERSION = "1.3"

IMPLIED_PREFIX = "implied by "


@dataclass(frozen=True)
class Evidence:
    """One classified mention. Offsets are ``str`` indices into the original text.

    `phrase` is the phrase-list entry that matched (``implied by <entry>`` for a
    mention added by an ``[implied_by]`` rule). `cue` is the cue text that made
    the mention negative or uncertain, "" (with cue offsets None) for positive.
    """

    start: int
    end: int
    phrase: str
    sentence_start: int
    sentence_end: int
    value: LabelValue
    cue: str = ""
    cue_start: int | None = None
    cue_end: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "phrase": self.phrase,
            "sentence_start": self.sentence_start,
            "sentence_end": self.sentence_end,
            "value": self.value.value,
            "cue": self.cue,
            "cue_start": self.cue_start,
            "cue_end": self.cue_end,
        }


@dataclass
class ReportLabels:
    """Labels of one report and the evidence behind each.

    `values` has all 14 observations. `evidence` maps an observation name to its
    mentions in text order; for No Finding it lists the positive/uncertain
    mentions of abnormalities outside the 14 ("other findings") that kept it
    from being positive. Findings of the 13 observations that block No Finding
    are visible under their own observation.
    """

    values: dict[Observation, LabelValue]
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    section: str = SectionMode.AUTO.value
    rules_version: str = RULES_VERSION

    @property
    def labels(self) -> LabelDict:
        return {o.value: self.values[o].value for o in OBSERVATIONS}

    def evidence_as_json(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [e.as_dict() for e in items] for name, items in self.evidence.items()}


def _blank(section: str) -> ReportLabels:
    return ReportLabels({o: LabelValue.BLANK for o in OBSERVATIONS}, {}, section)


def _overlaps(a: PhraseMatch, spans: list[PhraseMatch]) -> bool:
    return any(a.start < s.end and s.start < a.end for s in spans)


def _longest_first(matches: list[PhraseMatch]) -> list[PhraseMatch]:
    """Non-overlapping matches, preferring the earliest then the longest."""
    kept: list[PhraseMatch] = []
    for m in sorted(matches, key=lambda m: (m.start, -(m.end - m.start))):
        if not kept or m.start >= kept[-1].end:
            kept.append(m)
        elif m.end > kept[-1].end and m.start == kept[-1].start:
            kept[-1] = m
    return kept


def label_report(text: str, section: str = "auto") -> ReportLabels:
    """Label one report. `section` is a ``SectionMode`` value: auto, impression, full.

    Never raises on odd text (empty, binary, huge); text without words gives 14
    blank labels. Raises ValueError for an unknown `section`.
    """
    mode = SectionMode(section).value
    if not isinstance(text, str):
        raise TypeError(f"report text must be str, not {type(text).__name__}")
    spans = spans_for_mode(text, mode)
    if not any(has_words(text[a:b]) for a, b in spans):
        return _blank(mode)
    low = lower_same_length(text)
    index = get_lexicon().index

    mentions: dict[str, list[Evidence]] = {}
    for span_start, span_end in spans:
        for rel_start, rel_end in _sentences(low, span_start, span_end):
            s_start, s_end = span_start + rel_start, span_start + rel_end
            for key, start, end, phrase, value, cue, cue_start, cue_end in _sentence_records(
                low, text, s_start, s_end, index
            ):
                item = Evidence(
                    start + s_start, end + s_start, phrase, s_start, s_end, value, cue,
                    None if cue_start is None else cue_start + s_start,
                    None if cue_end is None else cue_end + s_start,
                )
                items = mentions.get(key)
                if items is None:
                    mentions[key] = [item]
                else:
                    items.append(item)

    values: dict[Observation, LabelValue] = {}
    evidence: dict[str, list[Evidence]] = {}
    for obs, name in _FINDINGS:
        items = mentions.get(name)
        if items:
            items.sort(key=_text_order)
            values[obs] = aggregate_values([e.value for e in items])
            evidence[name] = items
        else:
            values[obs] = LabelValue.BLANK
    # An "other finding" inside a mention of one of the 13 ("disease" in
    # "airspace disease") is that mention's word, not a separate finding.
    others: list[Evidence] = []
    if OTHER_FINDINGS in mentions:
        finding_spans = [
            (e.start, e.end) for key, items in mentions.items() if key != OTHER_FINDINGS for e in items
        ]
        others = [
            e
            for e in mentions[OTHER_FINDINGS]
            if e.value is not LabelValue.NEGATIVE
            and not any(e.start < b and a < e.end for a, b in finding_spans)
        ]
    values[Observation.NO_FINDING] = no_finding_value(
        [e.value for name in _BLOCKING_NO_FINDING for e in mentions.get(name, ())],
        [e.value for e in others],
    )
    if others:
        evidence[Observation.NO_FINDING.value] = sorted(others, key=_text_order)
    return ReportLabels(values, evidence, mode)


def _text_order(e: Evidence) -> tuple[int, int]:
    return (e.start, e.end)


# Observations in CheXpert order with their names, looked up once (an enum's
# .value is a descriptor call, and this loop runs for every report).
_FINDINGS: tuple[tuple[Observation, str], ...] = tuple(
    (o, o.value) for o in OBSERVATIONS if o is not Observation.NO_FINDING
)
_BLOCKING_NO_FINDING: tuple[str, ...] = tuple(
    o.value for o in OBSERVATIONS if o not in (Observation.NO_FINDING, Observation.SUPPORT_DEVICES)
)

# Reports repeat their sentences ("No pneumothorax.", "The lungs are clear.")
# and their section bodies ("No acute cardiopulmonary abnormality."), so the
# sentences of a span and the labelled mentions of a sentence are cached by
# their text, with offsets relative to the span/sentence start. What a sentence
# yields depends only on its original text, its lower-cased text and the
# characters just outside it (word boundaries of phrases at its edges), which is
# the cache key; splitting a span depends only on its lower-cased text. Bounded:
# a cache is emptied when full. tests/labeling/test_rules_golden.py pins the
# output with and without these caches.
_CACHE_SIZE = 20_000
# Longer texts are labelled without the caches: they rarely repeat, and the
# keys must stay small (20,000 entries of at most a few kB).
_MAX_CACHED_SENTENCE = 1_000
_MAX_CACHED_SPAN = 4_000
Record = tuple[str, int, int, str, LabelValue, str, "int | None", "int | None"]
_sentence_cache: dict[tuple[str, str, str, str], tuple[Record, ...]] = {}
_split_cache: dict[str, tuple[tuple[int, int], ...]] = {}


def clear_caches() -> None:
    """Forget the cached sentences and words (benchmarks measure a cold pass with it)."""
    _sentence_cache.clear()
    _split_cache.clear()
    get_lexicon().index.clear_cache()


def _sentences(low: str, span_start: int, span_end: int) -> tuple[tuple[int, int], ...]:
    if span_end - span_start > _MAX_CACHED_SPAN:
        return tuple((s.start - span_start, s.end - span_start) for s in split_sentences(low, span_start, span_end))
    body = low[span_start:span_end]
    found = _split_cache.get(body)
    if found is None:
        found = tuple((s.start, s.end) for s in split_sentences(body))
        if len(_split_cache) >= _CACHE_SIZE:
            _split_cache.clear()
        _split_cache[body] = found
    return found


def _sentence_records(low: str, text: str, s_start: int, s_end: int, index: Any) -> tuple[Record, ...]:
    if s_end - s_start > _MAX_CACHED_SENTENCE:
        return tuple(_label_sentence(low, text, s_start, s_end, index))
    key = (text[s_start:s_end], low[s_start:s_end], low[s_start - 1 : s_start], low[s_end : s_end + 1])
    found = _sentence_cache.get(key)
    if found is None:
        found = tuple(_label_sentence(low, text, s_start, s_end, index))
        if len(_sentence_cache) >= _CACHE_SIZE:
            _sentence_cache.clear()
        _sentence_cache[key] = found
    return found


# Where a cue match goes, by its entry's section (one dict look-up per match).
_PSEUDO, _TERMINATOR, _KEEP_WHOLE, _CONDITIONAL, _LIST_CUE = range(-5, 0)
_CUE_SLOTS: dict[str, int] = {
    "pseudo": _PSEUDO,
    "terminator": _TERMINATOR,
    "terminator_exception": _KEEP_WHOLE,
    "hypothetical": _CONDITIONAL,
    "uncertainty_list": _LIST_CUE,
    **{kind: i for i, kind in enumerate(CLASSIFYING_CUE_KINDS)},
}
_UNCERTAINTY_BEFORE = CLASSIFYING_CUE_KINDS.index("uncertainty_before")
# CueSet is built positionally from lists in CLASSIFYING_CUE_KINDS order.
if tuple(f.name for f in fields(CueSet)) != CLASSIFYING_CUE_KINDS:
    raise ImportError("CueSet fields must follow CLASSIFYING_CUE_KINDS")


def _label_sentence(low: str, text: str, s_start: int, s_end: int, index: Any) -> list[Record]:
    """The evidence of one sentence, offsets relative to its start, in the
    order the report-level lists receive it."""
    out: list[Record] = []
    found = index.find(low, s_start, s_end)
    if not found:
        return out
    by_key: dict[str, dict[str, list[PhraseMatch]]] = {}
    cue_matches: list[PhraseMatch] = []
    for m in found:
        entry = m.entry
        if entry.key == "cue":
            cue_matches.append(m)
        else:
            sections = by_key.get(entry.key)
            if sections is None:
                by_key[entry.key] = {entry.section: [m]}
            else:
                ms = sections.get(entry.section)
                if ms is None:
                    sections[entry.section] = [m]
                else:
                    ms.append(m)
    if not by_key:
        return out  # cues alone say nothing
    cue_lists: list[list[PhraseMatch]] = [[] for _ in CLASSIFYING_CUE_KINDS]
    pseudo: list[PhraseMatch] = []
    cut_points: list[int] = []
    keep_whole: list[PhraseMatch] = []  # terminator exceptions
    conditionals: list[PhraseMatch] = []
    list_cues: list[PhraseMatch] = []  # open a list of alternatives
    for m in cue_matches:
        slot = _CUE_SLOTS[m.entry.section]
        if slot >= 0:
            cue_lists[slot].append(m)
        elif slot == _PSEUDO:
            pseudo.append(m)
        elif slot == _TERMINATOR:
            cut_points.append(m.start)
        elif slot == _KEEP_WHOLE:
            keep_whole.append(m)
        elif slot == _CONDITIONAL:
            conditionals.append(m)
        else:
            list_cues.append(m)
    if pseudo:
        cue_lists = [[c for c in cues if not _overlaps(c, pseudo)] if cues else cues for cues in cue_lists]
        list_cues = [c for c in list_cues if not _overlaps(c, pseudo)]
    cue_lists[_UNCERTAINTY_BEFORE] += list_cues
    cue_set = CueSet(*cue_lists)
    if cut_points:
        # A terminator word inside a cue ("correlate clinically with") or an
        # exception ("consistent with", "does not show") does not end the clause.
        keep_whole += [c for cues in cue_lists for c in cues]
        cut_points = sorted(
            set(p for p in cut_points if s_start < p < s_end and not any(k.start < p < k.end for k in keep_whole))
        )
        if list_cues:
            cut_points = _list_scope_cuts(low, cut_points, list_cues)
    if cut_points:
        bounds = [s_start, *cut_points, s_end]
        clauses: ClauseIndex | None = ClauseIndex([(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)])
    else:
        clauses = None  # one clause: the sentence
    sentence = (s_start, s_end)

    def clause_of(pos: int) -> tuple[int, int]:
        if clauses is None:
            return sentence  # every mention lies inside its sentence
        return clauses.clause_of(pos) or sentence

    def record(key: str, m: PhraseMatch) -> None:
        value, cue = classify_mention(low, m.start, m.end, clause_of(m.start), s_end, cue_set)
        if cue is None:
            out.append((key, m.start - s_start, m.end - s_start, m.entry.source, value, "", None, None))
        else:
            out.append((key, m.start - s_start, m.end - s_start, m.entry.source, value,
                        text[cue.start:cue.end], cue.start - s_start, cue.end - s_start))

    for key, sections in by_key.items():
        if conditionals:
            sections = {
                name: [m for m in ms if not in_condition(low, m.start, clause_of(m.start), conditionals)]
                for name, ms in sections.items()
            }
        unmentions = sections.get(UNMENTION)
        mentions = sections.get(MENTION) or []
        if unmentions and mentions:
            mentions = [m for m in mentions if not _overlaps(m, unmentions)]
        if len(mentions) > 1:
            mentions = _longest_first(mentions)
        for m in mentions:
            record(key, m)
        anchors = sections.get(ANCHOR)
        if anchors:
            anchors = [
                m for m in anchors
                if not (unmentions and _overlaps(m, unmentions)) and not _overlaps(m, mentions)
            ]
            for m in _longest_first(anchors):
                value, cue = classify_mention(low, m.start, m.end, clause_of(m.start), s_end, cue_set)
                if value is not LabelValue.POSITIVE:  # an anchor alone asserts nothing
                    if cue is None:
                        out.append((key, m.start - s_start, m.end - s_start, m.entry.source, value, "", None, None))
                    else:
                        out.append((key, m.start - s_start, m.end - s_start, m.entry.source, value,
                                    text[cue.start:cue.end], cue.start - s_start, cue.end - s_start))
        implied = sections.get(IMPLIED_BY)
        if implied:
            for m in _longest_first([m for m in implied if not (unmentions and _overlaps(m, unmentions))]):
                value, cue = classify_mention(low, m.start, m.end, clause_of(m.start), s_end, cue_set)
                if value is not LabelValue.NEGATIVE:
                    out.append((key, m.start - s_start, m.end - s_start, IMPLIED_PREFIX + m.entry.source,
                                LabelValue.UNCERTAIN, text[m.start:m.end], m.start - s_start, m.end - s_start))
    return out


def _list_scope_cuts(low: str, cut_points: list[int], list_cues: list[PhraseMatch]) -> list[int]:
    """Clause breaks after a cue that opens a list of alternatives are dropped
    until a contrast ("but", "however", ";") closes the list: in "differential
    considerations include infection and mild edema" edema is an alternative
    too, although "and mild" usually starts a new clause."""
    kept: list[int] = []
    open_from = None
    cues = sorted(c.end for c in list_cues)
    for p in cut_points:
        while cues and cues[0] <= p:
            open_from = cues.pop(0)
        contrast = low[p] == ";" or CONTRAST.match(low, p) is not None
        if open_from is not None and not contrast:
            continue
        if contrast:
            open_from = None
        kept.append(p)
    return kept


def label_reports(texts: Iterable[str], section: str = "auto") -> list[ReportLabels]:
    """Label many reports (same contract as ``label_report``)."""
    SectionMode(section)
    return [label_report(t, section) for t in texts]
