"""The rule labeler: report text -> 14 CheXpert labels with evidence.

Pipeline: choose the spans to read (``labeling.sections.spans_for_mode``) ->
lower-case without moving offsets -> split sentences -> find every phrase of
every list in one pass per sentence -> cut sentences into clauses at
terminators -> drop mentions overlapped by an unmention -> classify each
mention (``classify``) -> aggregate per observation (``aggregate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
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
        for sentence in split_sentences(low, span_start, span_end):
            _label_sentence(low, text, sentence.start, sentence.end, index, mentions)

    values: dict[Observation, LabelValue] = {}
    evidence: dict[str, list[Evidence]] = {}
    for obs in OBSERVATIONS:
        if obs is Observation.NO_FINDING:
            continue
        items = sorted(mentions.get(obs.value, []), key=lambda e: (e.start, e.end))
        values[obs] = aggregate_values([e.value for e in items])
        if items:
            evidence[obs.value] = items
    # An "other finding" inside a mention of one of the 13 ("disease" in
    # "airspace disease") is that mention's word, not a separate finding.
    finding_spans = [
        (e.start, e.end) for key, items in mentions.items() if key != OTHER_FINDINGS for e in items
    ]
    others = [
        e
        for e in mentions.get(OTHER_FINDINGS, [])
        if e.value is not LabelValue.NEGATIVE
        and not any(e.start < b and a < e.end for a, b in finding_spans)
    ]
    values[Observation.NO_FINDING] = no_finding_value(
        [e.value for obs in OBSERVATIONS if obs not in (Observation.NO_FINDING, Observation.SUPPORT_DEVICES)
         for e in mentions.get(obs.value, [])],
        [e.value for e in others],
    )
    if others:
        evidence[Observation.NO_FINDING.value] = sorted(others, key=lambda e: (e.start, e.end))
    return ReportLabels(values, evidence, mode)


def _label_sentence(low: str, text: str, s_start: int, s_end: int, index: Any, out: dict[str, list[Evidence]]) -> None:
    found = index.find(low, s_start, s_end)
    if not found:
        return
    cue_lists: dict[str, list[PhraseMatch]] = {k: [] for k in CLASSIFYING_CUE_KINDS}
    pseudo: list[PhraseMatch] = []
    cut_points: list[int] = []
    keep_whole: list[PhraseMatch] = []  # terminator exceptions
    conditionals: list[PhraseMatch] = []
    list_cues: list[PhraseMatch] = []  # open a list of alternatives
    by_key: dict[str, dict[str, list[PhraseMatch]]] = {}
    for m in found:
        entry = m.entry
        if entry.key == "cue":
            if entry.section == "pseudo":
                pseudo.append(m)
            elif entry.section == "terminator":
                cut_points.append(m.start)
            elif entry.section == "terminator_exception":
                keep_whole.append(m)
            elif entry.section == "hypothetical":
                conditionals.append(m)
            elif entry.section == "uncertainty_list":
                list_cues.append(m)
            else:
                cue_lists[entry.section].append(m)
        else:
            by_key.setdefault(entry.key, {}).setdefault(entry.section, []).append(m)
    if not by_key:
        return
    if pseudo:
        for kind, cues in cue_lists.items():
            cue_lists[kind] = [c for c in cues if not _overlaps(c, pseudo)]
        list_cues = [c for c in list_cues if not _overlaps(c, pseudo)]
    cue_lists["uncertainty_before"] += list_cues
    cue_set = CueSet(**cue_lists)
    # A terminator word inside a cue ("correlate clinically with") or an
    # exception ("consistent with", "does not show") does not end the clause.
    keep_whole += [c for cues in cue_lists.values() for c in cues]
    cut_points = sorted(
        set(p for p in cut_points if s_start < p < s_end and not any(k.start < p < k.end for k in keep_whole))
    )
    if list_cues:
        cut_points = _list_scope_cuts(low, cut_points, list_cues)
    bounds = [s_start, *cut_points, s_end]
    clauses = ClauseIndex([(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)])

    def classify(m: PhraseMatch) -> tuple[LabelValue, PhraseMatch | None]:
        clause = clauses.clause_of(m.start) or (s_start, s_end)
        return classify_mention(low, m.start, m.end, clause, s_end, cue_set)

    def asserted(m: PhraseMatch) -> bool:
        return not conditionals or not in_condition(low, m.start, clauses.clause_of(m.start) or (s_start, s_end),
                                                    conditionals)

    for key, sections in by_key.items():
        if conditionals:
            sections = {name: [m for m in ms if asserted(m)] for name, ms in sections.items()}
        unmentions = sections.get(UNMENTION, [])
        mentions = [m for m in sections.get(MENTION, []) if not _overlaps(m, unmentions)]
        mentions = _longest_first(mentions)
        anchors = [
            m for m in sections.get(ANCHOR, []) if not _overlaps(m, unmentions) and not _overlaps(m, mentions)
        ]
        items = out.setdefault(key, [])
        for m in mentions:
            value, cue = classify(m)
            items.append(_evidence(m, value, cue, s_start, s_end, low, text))
        for m in _longest_first(anchors):
            value, cue = classify(m)
            if value is not LabelValue.POSITIVE:  # an anchor alone asserts nothing
                items.append(_evidence(m, value, cue, s_start, s_end, low, text))
        for m in _longest_first([m for m in sections.get(IMPLIED_BY, []) if not _overlaps(m, unmentions)]):
            value, cue = classify(m)
            if value is not LabelValue.NEGATIVE:
                items.append(
                    Evidence(m.start, m.end, IMPLIED_PREFIX + m.entry.source, s_start, s_end,
                             LabelValue.UNCERTAIN, text[m.start:m.end], m.start, m.end)
                )
        if not items:
            del out[key]


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


def _evidence(
    m: PhraseMatch, value: LabelValue, cue: PhraseMatch | None, s_start: int, s_end: int, low: str, text: str
) -> Evidence:
    if cue is None:
        return Evidence(m.start, m.end, m.entry.source, s_start, s_end, value)
    return Evidence(m.start, m.end, m.entry.source, s_start, s_end, value, text[cue.start:cue.end], cue.start, cue.end)


def label_reports(texts: Iterable[str], section: str = "auto") -> list[ReportLabels]:
    """Label many reports (same contract as ``label_report``)."""
    SectionMode(section)
    return [label_report(t, section) for t in texts]
