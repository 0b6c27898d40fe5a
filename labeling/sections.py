"""Section parsing for radiology reports (MIMIC-CXR and Open-i headings).

Plain Python, no Django: used by the importer (to store sections), the rule
labeler and the model (to choose what text they read).

Offsets are Python string indices into the original text, so evidence spans
computed on a section map straight back to the full report.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any


class SectionName(str, enum.Enum):
    PREAMBLE = "preamble"  # text before the first recognised heading
    INDICATION = "indication"  # also HISTORY, REASON FOR EXAM, CLINICAL INFORMATION
    TECHNIQUE = "technique"  # also EXAMINATION, EXAM, PROCEDURE, VIEWS
    COMPARISON = "comparison"
    FINDINGS = "findings"
    IMPRESSION = "impression"  # also CONCLUSION, SUMMARY, OPINION


class SectionMode(str, enum.Enum):
    """Which text a labeler reads.

    AUTO: FINDINGS and IMPRESSION when headings are present (plus text under
    headings we do not recognise, never INDICATION/HISTORY/COMPARISON/TECHNIQUE);
    the whole text when there are no headings.
    IMPRESSION: the IMPRESSION section; AUTO's text when there is none.
    FULL: the whole report.
    """

    AUTO = "auto"
    IMPRESSION = "impression"
    FULL = "full"


# Heading text (upper case, single spaces) -> section. Longer alternatives first
# so "CLINICAL HISTORY" wins over "HISTORY".
_HEADINGS: dict[str, SectionName] = {
    "CLINICAL INDICATION": SectionName.INDICATION,
    "CLINICAL INDICATIONS": SectionName.INDICATION,
    "CLINICAL HISTORY": SectionName.INDICATION,
    "CLINICAL INFORMATION": SectionName.INDICATION,
    "CLINICAL DATA": SectionName.INDICATION,
    "REASON FOR EXAMINATION": SectionName.INDICATION,
    "REASON FOR EXAM": SectionName.INDICATION,
    "REASON FOR STUDY": SectionName.INDICATION,
    "INDICATIONS": SectionName.INDICATION,
    "INDICATION": SectionName.INDICATION,
    "HISTORY": SectionName.INDICATION,
    "TECHNIQUE": SectionName.TECHNIQUE,
    "EXAMINATION": SectionName.TECHNIQUE,
    "EXAM": SectionName.TECHNIQUE,
    "PROCEDURE": SectionName.TECHNIQUE,
    "VIEWS": SectionName.TECHNIQUE,
    "COMPARISONS": SectionName.COMPARISON,
    "COMPARISON": SectionName.COMPARISON,
    "FINDINGS": SectionName.FINDINGS,
    "FINDING": SectionName.FINDINGS,
    "IMPRESSIONS": SectionName.IMPRESSION,
    "IMPRESSION": SectionName.IMPRESSION,
    "CONCLUSIONS": SectionName.IMPRESSION,
    "CONCLUSION": SectionName.IMPRESSION,
    "SUMMARY": SectionName.IMPRESSION,
    "OPINION": SectionName.IMPRESSION,
}
_ALTERNATION = "|".join(
    re.escape(h).replace(r"\ ", r"[ \t]+") for h in sorted(_HEADINGS, key=len, reverse=True)
)


def _trie_alternation(headings: list[str]) -> str:
    """The same alternation as a character trie ("C(?:LINICAL[ \\t]+(?:IN(?:DICATION(?:S)?|
    FORMATION)|...)|O(?:MPARISON...", so the engine reads each character once
    instead of trying every heading in turn. It matches what `_ALTERNATION` matches
    wherever a heading must be followed by `[ \\t]*:`: there no two headings can
    both complete (none is another plus more letters or words), so the order of
    the alternatives makes no difference."""
    trie: dict[str, Any] = {}
    for heading in headings:
        node = trie
        for char in heading:
            node = node.setdefault(r"[ \t]+" if char == " " else re.escape(char), {})
        node[""] = {}  # a heading ends here

    def emit(node: dict[str, Any]) -> str:
        branches = [token + emit(child) for token, child in node.items() if token]
        if not branches:
            return ""
        ends_here = "" in node
        body = branches[0] if len(branches) == 1 and not ends_here else "(?:" + "|".join(branches) + ")"
        return body + "?" if ends_here else body

    return emit(trie)


_FAST_ALTERNATION = _trie_alternation(list(_HEADINGS))
# A heading at the start of a line (any case), or anywhere in upper case after
# whitespace/sentence end (one-line reports: "INDICATION: x FINDINGS: y").
# These two regexes define what a heading is; `_heading_matches` finds exactly
# their matches with the two faster ones below.
_LINE_START_HEADING = re.compile(rf"(?im)^[ \t]*(?P<h>{_ALTERNATION})[ \t]*:")
_INLINE_HEADING = re.compile(rf"(?<=[\s.])(?P<h>{_ALTERNATION})[ \t]*:")
# Faster equivalents. `_LINE_START_HEADING` checks `^` at every position of the
# text and `_INLINE_HEADING` tries its lookbehind and the whole alternation at
# every position (together about half of an import's section-splitting time).
# A regex that starts with a literal newline, or with the alternation itself, lets the
# engine skip ahead to where a match can start; the first line and the
# lookbehind are then handled in Python.
# The blanks before a heading are matched possessively (`*+`): no heading starts
# with a blank, so giving some back can never lead to a match, and without it
# every indented line cost one try of the alternation per blank.
_FIRST_LINE_HEADING = re.compile(rf"[ \t]*+(?i:(?P<h>{_FAST_ALTERNATION}))[ \t]*:")
_NEXT_LINE_HEADING = re.compile(rf"\n[ \t]*+(?i:(?P<h>{_FAST_ALTERNATION}))[ \t]*:")
_UPPER_CASE_HEADING = re.compile(rf"(?P<h>{_FAST_ALTERNATION})[ \t]*:")

EXCLUDED_FROM_AUTO = frozenset(
    {SectionName.INDICATION, SectionName.TECHNIQUE, SectionName.COMPARISON}
)


@dataclass(frozen=True)
class Section:
    """One section: `start`/`end` delimit its body (after the heading's colon)."""

    name: SectionName
    heading: str  # as written in the report, "" for the preamble
    heading_start: int
    start: int
    end: int

    def body(self, text: str) -> str:
        return text[self.start : self.end]


def _heading_matches(text: str) -> list[re.Match[str]]:
    """`_LINE_START_HEADING`'s matches and the upper-case ones of `_INLINE_HEADING`
    at a place the first did not take, in text order (only `start("h")`,
    `group("h")` and `end()` of each are used).

    The line-start matches lie on different lines, so the first line's and the
    other lines' can be found separately. The inline regex's `finditer` is
    replayed with the unanchored regex: search from `pos` for the next place it
    matches; if the lookbehind holds there, that is the next match and the scan
    goes on from its end, else from one character later (which is what
    `finditer` does where the match fails)."""
    if ":" not in text:
        return []
    found: dict[int, re.Match[str]] = {}
    first = _FIRST_LINE_HEADING.match(text)
    if first is not None:
        found[first.start("h")] = first
    for line_match in _NEXT_LINE_HEADING.finditer(text):
        found[line_match.start("h")] = line_match
    pos = 0
    search = _UPPER_CASE_HEADING.search
    while (m := search(text, pos)) is not None:
        start = m.start()
        if start > 0 and (text[start - 1].isspace() or text[start - 1] == "."):  # (?<=[\s.])
            if m.group("h").isupper():
                found.setdefault(start, m)
            pos = m.end()
        else:
            pos = start + 1
    return [found[k] for k in sorted(found)]


def parse_sections(text: str) -> list[Section]:
    """Split a report into sections. No headings -> a single PREAMBLE section.

    Whitespace around each body is trimmed from the span; empty preambles are
    dropped. Repeated headings give repeated sections, in text order.
    """
    return [Section(*fields) for fields in _section_fields(text)]


def sections_for_storage(text: str) -> list[list[object]]:
    """`parse_sections` as stored on a report (`Report.sections`):
    ``[[name, heading start, body start, body end], ...]``, without building
    `Section`s (the importer calls this once per report)."""
    return [[name.value, heading_start, start, end] for name, _, heading_start, start, end in _section_fields(text)]


def _section_fields(text: str) -> list[tuple[SectionName, str, int, int, int]]:
    matches = _heading_matches(text)
    sections: list[tuple[SectionName, str, int, int, int]] = []
    first = matches[0].start("h") if matches else len(text)
    pre_start, pre_end = _trim(text, 0, first)
    if pre_end > pre_start or not matches:
        sections.append((SectionName.PREAMBLE, "", 0, pre_start, pre_end))
    starts = [m.start("h") for m in matches]
    starts.append(len(text))
    for i, m in enumerate(matches):
        heading = m.group("h")
        name = _HEADING_NAMES.get(heading)
        if name is None:
            name = _HEADINGS[" ".join(heading.upper().split())]
            if len(_HEADING_NAMES) < 10_000:
                _HEADING_NAMES[heading] = name
        start, end = _trim(text, m.end(), starts[i + 1])
        sections.append((name, heading, starts[i], start, end))
    return sections


# Heading as written -> section (the same few spellings recur in every report).
_HEADING_NAMES: dict[str, SectionName] = {}


def has_headings(sections: list[Section]) -> bool:
    return any(s.name is not SectionName.PREAMBLE for s in sections)


def spans_for_mode(text: str, mode: SectionMode | str = SectionMode.AUTO) -> list[tuple[int, int]]:
    """Character spans of `text` that a labeler should read under `mode`."""
    mode = SectionMode(mode)
    if mode is SectionMode.FULL:
        return [(0, len(text))]
    sections = parse_sections(text)
    if not has_headings(sections):
        return [(0, len(text))]
    if mode is SectionMode.IMPRESSION:
        impression = [(s.start, s.end) for s in sections if s.name is SectionName.IMPRESSION]
        if impression:
            return impression
    # AUTO. The preamble of a headed report is usually a title ("FINAL REPORT",
    # "CHEST PA AND LATERAL"); keep it only when no findings/impression exist.
    core = [s for s in sections if s.name in (SectionName.FINDINGS, SectionName.IMPRESSION)]
    if core:
        return [(s.start, s.end) for s in core]
    return [
        (s.start, s.end) for s in sections if s.name not in EXCLUDED_FROM_AUTO
    ]


def text_for_mode(text: str, mode: SectionMode | str = SectionMode.AUTO) -> str:
    """The text a labeler reads under `mode`, sections joined by a blank line."""
    return "\n\n".join(text[a:b] for a, b in spans_for_mode(text, mode))


def sections_as_dict(text: str) -> dict[str, str]:
    """Section name -> body text (repeated sections joined), for storage and display."""
    result: dict[str, str] = {}
    for s in parse_sections(text):
        body = s.body(text)
        if not body:
            continue
        key = s.name.value
        result[key] = f"{result[key]}\n{body}" if key in result else body
    return result


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    if start >= end:
        return start, end
    # str.strip() removes exactly the characters for which isspace() is true.
    body = text[start:end]
    stripped = body.lstrip()
    if not stripped:
        return end, end
    start += len(body) - len(stripped)
    return start, start + len(stripped.rstrip())
