"""Phrase lists: the data-file format, its mini pattern language, and a fast matcher.

A phrase file is plain UTF-8 text made of ``[section]`` headers and one entry per
line; ``#`` starts a comment, blank lines are ignored. An entry is a phrase
written in lower case with this small syntax (no general regular expressions, so
the lists stay readable by radiologists):

- ``word``         the whole word (word boundaries on both sides);
- ``opaci*``       a stem: any word starting with ``opaci``;
- ``{a|b c|d*}``   alternatives, each itself a phrase; an empty alternative
                   (``{left |}``) makes the group optional (not allowed first);
- ``...`` / ``...3`` a gap of up to 4 (or N) words, never across punctuation;
- words are separated by whitespace or hyphens in the text, so ``air space``
  matches "air space", "air-space" and a line-wrapped "air\\nspace";
- ``seen,``       a word with the comma that follows it (terminators:
                   "no effusion seen, nodule ..." ends the negation there);
- ``@N`` at the end of a cue entry is its reach: at most N words between the
  cue and the mention (see ``classify``).

Matching runs on the lower-cased text; offsets are offsets into that text,
which has the original's length (see ``text.lower_same_length``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

PHRASE_DIR = Path(__file__).resolve().parent / "phrases"

# Between two words of a phrase: whitespace and/or hyphens (at least one char).
_SEP = r"[\s\-]+"
# One word inside a gap: letters/digits with inner apostrophes or slashes.
_GAP_WORD = r"[\w'/]+"
_STEM_MIN = 3  # shortest stem the index supports


class PhraseSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class PhraseEntry:
    """One compiled entry of a phrase list."""

    source: str  # the entry as written in the file (without ``@N``)
    section: str  # the [section] it came from
    key: str  # owner of the list, e.g. the observation name or cue kind
    reach: int | None  # ``@N`` option: max words between cue and mention
    regex: re.Pattern[str]
    first_words: frozenset[str]  # exact first words
    first_stems: frozenset[str]  # stems a first word may start with


class PhraseMatch(NamedTuple):
    """One match of an entry. A named tuple, not a frozen dataclass: tens of
    thousands are made per thousand reports, and a tuple is ~3x cheaper to build.
    Truthy like any non-empty tuple (``cue or other`` relies on it)."""

    start: int
    end: int
    entry: PhraseEntry


def _split_top(phrase: str, sep: str) -> list[str]:
    """Split on `sep` outside braces."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in phrase:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise PhraseSyntaxError(f"unbalanced '}}' in {phrase!r}")
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise PhraseSyntaxError(f"unbalanced '{{' in {phrase!r}")
    parts.append("".join(current))
    return parts


def _tokens(phrase: str) -> list[str]:
    """Top-level tokens: words, ``{...}`` groups (adjacent groups split), gaps."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in phrase.strip():
        if depth == 0 and ch == "{" and current:
            tokens.append("".join(current))
            current = []
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise PhraseSyntaxError(f"unbalanced '}}' in {phrase!r}")
        if depth == 0 and ch == " ":
            if current:
                tokens.append("".join(current))
            current = []
            continue
        current.append(ch)
        if depth == 0 and ch == "}":
            tokens.append("".join(current))
            current = []
    if depth != 0:
        raise PhraseSyntaxError(f"unbalanced '{{' in {phrase!r}")
    if current:
        tokens.append("".join(current))
    return tokens


_GAP_RE = re.compile(r"^\.\.\.(\d*)$")
_WORD_RE = re.compile(r"^[^\s{}*|]+\*?$")


def _compile_phrase(phrase: str) -> tuple[str, set[str], set[str], bool]:
    """Return (regex source, first words, first stems, can_be_empty)."""
    tokens = _tokens(phrase)
    if not tokens:
        return "", set(), set(), True
    first = tokens[0]
    if first.startswith("{") and len(tokens) > 1:
        alts = _split_top(first[1:-1], "|")
        if any(not a.strip() for a in alts):
            # A leading optional group: "{a |}b c" is "{a b c|b c}".
            rest = " ".join(tokens[1:])
            spelled = [f"{a.strip()} {rest}" for a in alts if a.strip()] + [rest]
            return _compile_phrase("{" + "|".join(spelled) + "}")
    pieces: list[str] = []
    first_words: set[str] = set()
    first_stems: set[str] = set()
    leading = True  # still collecting possible first words
    for i, tok in enumerate(tokens):
        gap = _GAP_RE.match(tok)
        if gap:
            if i == 0 or i == len(tokens) - 1:
                raise PhraseSyntaxError(f"a gap cannot start or end a phrase: {phrase!r}")
            n = int(gap.group(1) or 4)
            pieces.append(f"(?:{_SEP}{_GAP_WORD}){{0,{n}}}?")
            continue
        if tok.startswith("{") and tok.endswith("}"):
            alts = _split_top(tok[1:-1], "|")
            srcs, optional = [], False
            for alt in alts:
                src, fw, fs, empty = _compile_phrase(alt)
                if empty:
                    optional = True
                    continue
                srcs.append(src)
                if leading:
                    first_words |= fw
                    first_stems |= fs
            body = "(?:" + "|".join(sorted(srcs, key=len, reverse=True)) + ")"
            if optional:
                if i == 0:
                    raise PhraseSyntaxError(f"a phrase cannot start with an optional group: {phrase!r}")
                # optional group: the separator moves inside the group
                pieces.append(f"(?:{_SEP}{body})?")
                continue
            piece = body
        elif _WORD_RE.match(tok):
            stem = tok.endswith("*")
            word = tok[:-1] if stem else tok
            if leading:
                if stem:
                    if len(word) < _STEM_MIN:
                        raise PhraseSyntaxError(f"stem shorter than {_STEM_MIN} letters: {phrase!r}")
                    first_stems.add(word)
                else:
                    # a word may carry a trailing comma ("seen,"); the index
                    # looks words up without it
                    first_words.add(word.rstrip(","))
            piece = re.escape(word) + (r"\w*" if stem else "")
        else:
            raise PhraseSyntaxError(f"bad token {tok!r} in {phrase!r}")
        pieces.append((_SEP if pieces else "") + piece)
        leading = False
    return "".join(pieces), first_words, first_stems, False


def compile_entry(phrase: str, *, section: str, key: str) -> PhraseEntry:
    reach = None
    text = phrase.strip()
    m = re.search(r"\s@(\d+)$", text)
    if m:
        reach = int(m.group(1))
        text = text[: m.start()].strip()
    if text != text.lower():
        raise PhraseSyntaxError(f"phrases are written in lower case: {phrase!r}")
    src, fw, fs, empty = _compile_phrase(text)
    if empty:
        raise PhraseSyntaxError(f"empty phrase: {phrase!r}")
    # A phrase starting/ending with a word character gets a word boundary; one
    # made of punctuation (";") does not need it.
    prefix = r"\b" if text[0].isalnum() or text[0] in "{" else ""
    suffix = r"\b" if (text[-1].isalnum() or text[-1] in "}*") else ""
    if text.endswith("*"):
        suffix = ""
    regex = re.compile(prefix + src + suffix)
    if not (text[0].isalnum() or text[0] == "{"):
        # Punctuation-led entries (";", ", likely") are found by a plain scan.
        fw, fs = set(), set()
    return PhraseEntry(text, section, key, reach, regex, frozenset(fw), frozenset(fs))


def read_phrase_file(path: Path) -> dict[str, list[str]]:
    """Section name -> entries (raw strings), in file order."""
    sections: dict[str, list[str]] = defaultdict(list)
    current: str | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections[current]  # noqa: B018 - create the section even if empty
            continue
        if current is None:
            raise PhraseSyntaxError(f"{path.name}:{lineno}: entry before any [section]")
        sections[current].append(line)
    return dict(sections)


def load_entries(filename: str, *, key: str, sections: tuple[str, ...]) -> dict[str, list[PhraseEntry]]:
    """Compile the listed sections of one phrase file; unknown sections are an error."""
    path = PHRASE_DIR / filename
    raw = read_phrase_file(path)
    unknown = set(raw) - set(sections)
    if unknown:
        raise PhraseSyntaxError(f"{filename}: unknown section(s) {sorted(unknown)}; expected {sections}")
    result: dict[str, list[PhraseEntry]] = {}
    for section in sections:
        entries = []
        for phrase in raw.get(section, []):
            try:
                entries.append(compile_entry(phrase, section=section, key=key))
            except PhraseSyntaxError as exc:
                raise PhraseSyntaxError(f"{filename} [{section}]: {exc}") from None
        result[section] = entries
    return result


_WORDS = re.compile(r"\w+")
_CANDIDATE_CACHE_SIZE = 50_000


class PhraseIndex:
    """Finds every entry of many lists in one pass over the words of a text.

    Entries are indexed by their possible first words (and first-word stems),
    so each word of the text costs a few dict look-ups and only plausible
    entries run their regex. All matches are returned, overlapping included;
    callers resolve overlaps.
    """

    def __init__(self, entries: list[PhraseEntry]) -> None:
        self._by_word: dict[str, list[PhraseEntry]] = defaultdict(list)
        self._by_stem: dict[str, list[PhraseEntry]] = defaultdict(list)
        # Punctuation-led entries (";", ", likely") with the character they
        # start with: a sentence without it skips their scan.
        self._non_word: list[tuple[PhraseEntry, str]] = []
        self._candidates: dict[str, tuple[PhraseEntry, ...]] = {}
        for entry in entries:
            if not entry.first_words and not entry.first_stems:
                first = entry.source[0]
                literal_start = entry.regex.pattern.startswith(re.escape(first))
                self._non_word.append((entry, first if literal_start else ""))
            for w in entry.first_words:
                self._by_word[w].append(entry)
            for s in entry.first_stems:
                self._by_stem[s].append(entry)
        stem_lengths = {len(s) for s in self._by_stem}
        self._stem_lengths = sorted(stem_lengths)
        self._by_word = dict(self._by_word)
        self._by_stem = dict(self._by_stem)

    def clear_cache(self) -> None:
        self._candidates.clear()

    def candidates(self, word: str) -> tuple[PhraseEntry, ...]:
        """Entries that may match at a word: those whose first word is `word`,
        then those whose first stem starts it (shortest stem first)."""
        found = self._candidates.get(word)
        if found is None:
            entries = list(self._by_word.get(word, ()))
            for n in self._stem_lengths:
                if n > len(word):
                    break
                entries += self._by_stem.get(word[:n], ())
            found = tuple(entries)
            # Report vocabulary is small (a few thousand words), but a flood of
            # odd words must not grow the cache without bound.
            if len(self._candidates) >= _CANDIDATE_CACHE_SIZE:
                self._candidates.clear()
            self._candidates[word] = found
        return found

    def find(self, low: str, start: int = 0, end: int | None = None) -> list[PhraseMatch]:
        end = len(low) if end is None else end
        # Per word: one dict look-up (most words start no entry), then only the
        # entries indexed under it run their regex (profile: the per-word stem
        # slicing was a third of the labeler's time before this cache).
        cached = self._candidates.get
        candidates = self.candidates
        found: list[PhraseMatch] = []
        for wm in _WORDS.finditer(low, start, end):
            word = wm.group()
            entries = cached(word)
            if entries is None:
                entries = candidates(word)
            if entries:
                pos = wm.start()
                for entry in entries:
                    m = entry.regex.match(low, pos, end)
                    if m:
                        found.append(PhraseMatch(pos, m.end(), entry))
        for entry, first_char in self._non_word:
            if low.find(first_char, start, end) < 0:
                continue
            for m in entry.regex.finditer(low, start, end):
                found.append(PhraseMatch(m.start(), m.end(), entry))
        return found


@cache
def phrase_file_names() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in PHRASE_DIR.glob("*.txt")))
