"""Section parsing: MIMIC-CXR and Open-i headings, case-insensitive, offsets into the text."""

from __future__ import annotations

import pytest

from labeling.sections import SectionName, parse_sections, sections_as_dict, spans_for_mode, text_for_mode

OPENI_STYLE = (
    "INDICATION: Cough, rule out pneumonia.\n"
    "COMPARISON: None.\n"
    "FINDINGS: The heart is normal in size. No effusion.\n"
    "IMPRESSION: No acute disease."
)
MIMIC_STYLE = (
    "                                 FINAL REPORT\n"
    " EXAMINATION:  CHEST (PA AND LAT)\n \n"
    " INDICATION:  ___ with shortness of breath\n \n"
    " TECHNIQUE:  Chest PA and lateral\n \n"
    " COMPARISON:  ___\n \n"
    " FINDINGS: \n \n"
    " Small left pleural effusion.\n \n"
    " IMPRESSION: \n \n"
    " Small left effusion.\n"
)


def test_open_i_headings_become_sections_with_exact_offsets() -> None:
    sections = parse_sections(OPENI_STYLE)
    assert [s.name for s in sections] == [
        SectionName.INDICATION, SectionName.COMPARISON, SectionName.FINDINGS, SectionName.IMPRESSION,
    ]
    findings = sections[2]
    assert findings.body(OPENI_STYLE) == "The heart is normal in size. No effusion."
    assert OPENI_STYLE[findings.start : findings.end] == findings.body(OPENI_STYLE)


def test_mimic_headings_and_title_preamble() -> None:
    as_dict = sections_as_dict(MIMIC_STYLE)
    assert as_dict["preamble"] == "FINAL REPORT"
    assert as_dict["technique"] == "CHEST (PA AND LAT)\nChest PA and lateral"  # EXAMINATION + TECHNIQUE
    assert as_dict["indication"] == "___ with shortness of breath"
    assert as_dict["findings"] == "Small left pleural effusion."
    assert as_dict["impression"] == "Small left effusion."


@pytest.mark.parametrize(
    "heading, expected",
    [
        ("History", SectionName.INDICATION),
        ("CLINICAL HISTORY", SectionName.INDICATION),
        ("reason for exam", SectionName.INDICATION),
        ("Findings", SectionName.FINDINGS),
        ("impression", SectionName.IMPRESSION),
        ("Conclusion", SectionName.IMPRESSION),
        ("Comparison", SectionName.COMPARISON),
    ],
)
def test_headings_are_case_insensitive_at_line_start(heading: str, expected: SectionName) -> None:
    text = f"{heading}: something here"
    assert parse_sections(text)[-1].name is expected


def test_inline_upper_case_headings_on_one_line() -> None:
    text = "INDICATION: chest pain. FINDINGS: Lungs are clear. IMPRESSION: Normal."
    assert sections_as_dict(text) == {
        "indication": "chest pain.", "findings": "Lungs are clear.", "impression": "Normal.",
    }


def test_lower_case_words_mid_sentence_are_not_headings() -> None:
    text = "Patient with a history: of asthma. Lungs clear."
    assert [s.name for s in parse_sections(text)] == [SectionName.PREAMBLE]


def test_auto_mode_reads_findings_and_impression_never_indication() -> None:
    read = text_for_mode(OPENI_STYLE, "auto")
    assert "pneumonia" not in read
    assert "No effusion" in read and "No acute disease" in read


def test_auto_mode_without_headings_reads_everything() -> None:
    assert spans_for_mode("No acute process.", "auto") == [(0, 17)]


def test_impression_mode_and_fallback() -> None:
    assert text_for_mode(OPENI_STYLE, "impression") == "No acute disease."
    no_impression = "INDICATION: pain\nFINDINGS: Clear lungs."
    assert text_for_mode(no_impression, "impression") == "Clear lungs."


def test_full_mode_reads_the_whole_text() -> None:
    assert text_for_mode(OPENI_STYLE, "full") == OPENI_STYLE


def test_headed_report_without_findings_uses_unexcluded_text() -> None:
    text = "INDICATION: dyspnea\nNOTE: heart enlarged."
    # NOTE is not a heading we know, so it stays in the indication's body; the
    # indication is excluded, so nothing is read.
    assert text_for_mode(text, "auto") == ""


# --- the fast heading search finds exactly the two defining regexes' matches ----------------
HEADING_FRAGMENTS = [
    "FINDINGS", "Findings", "findings", "IMPRESSION", "Impressions", "CLINICAL HISTORY", "clinical \t history",
    "HISTORY", "REASON FOR EXAM", "REASON  FOR EXAMINATION", "EXAM", "SUMMARY", "Opinion", "XFINDINGS", "preFINDINGS",
    ":", " :", "\t:", "FINDINGS:", "\nImpression:", " HISTORY :", ".INDICATION:", ".", ". ", " ", "  ", "\t", "\n", "\r\n", " \n", "word", "Heart is normal", "é", "\u2028", "\x85",
]


def reference_heading_matches(text: str) -> list[tuple[int, str, int]]:
    """`_heading_matches` as it was: both regexes' finditer over the whole text."""
    from labeling.sections import _INLINE_HEADING, _LINE_START_HEADING

    found: dict[int, tuple[int, str, int]] = {}
    for m in _LINE_START_HEADING.finditer(text):
        found[m.start("h")] = (m.start("h"), m.group("h"), m.end())
    for m in _INLINE_HEADING.finditer(text):
        if m.group("h").isupper():
            found.setdefault(m.start("h"), (m.start("h"), m.group("h"), m.end()))
    return [found[k] for k in sorted(found)]


def test_heading_search_matches_the_defining_regexes() -> None:
    import random

    from labeling.sections import _heading_matches

    rng = random.Random(19)
    texts = ["".join(rng.choice(HEADING_FRAGMENTS) for _ in range(rng.randint(1, 30))) for _ in range(4000)]
    assert sum(len(reference_heading_matches(t)) for t in texts) > 5000
    for text in texts:
        got = [(m.start("h"), m.group("h"), m.end()) for m in _heading_matches(text)]
        assert got == reference_heading_matches(text), text
