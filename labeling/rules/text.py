"""Normalisation and sentence splitting that keep offsets into the original text.

Every function here returns spans as Python ``str`` indices of the text it was
given, so evidence found on the normalised text points at the original report.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# A "word" for the wordless test: two letters in a row (any script). Digits,
# punctuation, control characters and lone letters inside binary garbage do not
# make a report.
_WORDY = re.compile(r"[^\W\d_]{2}")


def has_words(text: str) -> bool:
    return _WORDY.search(text) is not None


def lower_same_length(text: str) -> str:
    """Lower-case `text` without changing its length (offsets stay valid).

    ``str.lower`` changes the length of a few characters (e.g. U+0130); those
    keep their original form. Curly apostrophes become straight ones so
    phrase lists need only one spelling.
    """
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if "\u2019" in low:
        low = low.replace("\u2019", "'")
    return low


# Abbreviations whose final period does not end a sentence. Compared against
# the lower-cased token before the period.
ABBREVIATIONS = frozenset(
    {
        "approx", "appox", "e.g", "eg", "i.e", "ie", "vs", "v", "dr", "mr", "mrs", "ms",
        "fig", "resp", "esp", "incl", "cf", "al", "pt", "pts", "hx", "y.o", "a.m",
        "p.m", "ca", "ant", "lat", "lt", "rt", "bilat", "vert", "approx.",
    }
)

# Candidate sentence ends: terminal punctuation followed by space or end of
# text; blank lines; a line break before a list marker; an inline list marker
# ("... effusion. 2. Cardiomegaly") is handled by the period rule plus the
# marker skip below.
_BOUNDARY = re.compile(
    r"[.!?]+(?=[\s\"')\]<]|$)"  # terminal punctuation ("<": HTML-like markup)
    r"|\n[ \t]*\n\s*"  # blank line
    r"|\n(?=[ \t]*(?:\d{1,2}[.)]|[-*\u2022])\s)"  # line break before a list item
)
_TOKEN_BEFORE = re.compile(r"([\w.]+)$")
_LIST_MARKER = re.compile(r"\s*(?:\(?\d{1,2}[.)]|[-*\u2022])\s+")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """Sentences of ``text[start:end]`` as trimmed spans of `text`.

    A leading list marker ("1.", "2)", "-") is excluded from the sentence span.
    Sentences without a single word character are dropped.
    """
    end = len(text) if end is None else end
    sentences: list[Sentence] = []
    cursor = start
    for m in _BOUNDARY.finditer(text, start, end):
        punct = m.group()
        if punct[0] in ".!?" and punct == ".":
            before = _TOKEN_BEFORE.search(text, max(cursor, m.start() - 20), m.start())
            if before:
                token = before.group(1).lower()
                if token in ABBREVIATIONS:
                    continue
                # "1." at the start of a sentence is a list marker, not an end.
                if token.isdigit() and len(token) <= 2 and text[cursor:before.start()].strip() == "":
                    continue
                # single letters ("e.g" written "e. g.") and initials
                if len(token) == 1 and token.isalpha() and token != "x":
                    continue
        _append(text, cursor, m.end() if punct[0] in ".!?" else m.start(), sentences)
        cursor = m.end()
    _append(text, cursor, end, sentences)
    return sentences


def _append(text: str, a: int, b: int, out: list[Sentence]) -> None:
    m = _LIST_MARKER.match(text, a, b)
    if m:
        a = m.end()
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a and _ALNUM.search(text, a, b):
        out.append(Sentence(a, b))


# One alphanumeric character: re's \w is str.isalnum() or "_" (CPython's
# SRE_UNI_IS_WORD), so this is any(ch.isalnum()) done in C.
_ALNUM = re.compile(r"[^\W_]")


class ClauseIndex:
    """Maps a position to its clause: [start, end) spans inside sentences.

    Clause boundaries (from the terminator phrase list, e.g. "but", "however",
    ";") limit the scope of negation and uncertainty cues.
    """

    def __init__(self, boundaries: list[tuple[int, int]]) -> None:
        boundaries.sort()
        self.starts = [a for a, _ in boundaries]
        self.ends = [b for _, b in boundaries]

    def clause_of(self, pos: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self.starts, pos) - 1
        if i < 0 or pos >= self.ends[i]:
            return None
        return self.starts[i], self.ends[i]


def word_count(text: str, start: int, end: int) -> int:
    """Number of words in ``text[start:end]`` (for cue reach)."""
    if end <= start:
        return 0
    return len(_WORD.findall(text, start, end))


_WORD = re.compile(r"\w+")
