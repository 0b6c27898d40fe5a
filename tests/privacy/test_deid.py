"""The de-identification scanner: written examples of each kind, radiology
phrasing that must not be flagged, placeholders, masking and redaction."""

from __future__ import annotations

import pytest

from privacy.deid import FindingsTally, deid_redact, deid_scan, deid_summary_text, mask


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in deid_scan(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("DOB: 03/14/1961.", [("date", "03/14/1961")]),
    ("Compared with 03/14/2021 study.", [("date", "03/14/2021")]),
    ("Born 3-14-61, seen", [("date", "3-14-61")]),
    ("Comparison 2021-03-14.", [("date", "2021-03-14")]),
    ("Exam of 14 March 2021.", [("date", "14 March 2021")]),
    ("Exam of March 14, 2021.", [("date", "March 14, 2021")]),
    ("Compared to Sept 2019 film", [("date", "Sept 2019")]),
    ("Call 555-123-4567 with results", [("phone", "555-123-4567")]),
    ("Call (555) 123-4567.", [("phone", "(555) 123-4567")]),
    ("Call +1 555 123 4567.", [("phone", "+1 555 123 4567")]),
    ("Contact jane.doe@hospital.org for images", [("email", "jane.doe@hospital.org")]),
    ("MRN: 12345678", [("id", "12345678")]),
    ("Accession #: A1234567", [("id", "A1234567")]),
    ("accession no. 12-3456", [("id", "12-3456")]),
    ("Study 98765432 compared", [("id", "98765432")]),
    ("Dr. John Smith was notified.", [("name", "John Smith")]),
    ("Discussed with Mrs. Jones at 3pm", [("name", "Jones")]),
    ("Mr. Brown, Ms. Ann B. Lee", [("name", "Brown"), ("name", "Ann B. Lee")]),
    ("Dictated by: Smith, John MD", [("name", "Smith, John MD")]),
    ("Electronically signed by Jane Doe\nIMPRESSION: clear", [("name", "Jane Doe")]),
])
def test_identifiers_are_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "2 cm nodule in the right upper lobe.",
    "Compression deformity of the T12 vertebra.",
    "AP view of the chest. PA and lateral views.",
    "Mass measures 5.5 x 3.2 cm.",
    "Degenerative change at C5-C6 and L1.",
    "See series 3 image 45.",
    "Unchanged since the prior study of 2019.",  # a year alone is not flagged (Safe Harbor allows years)
    "Opacity in the lower 1/3 of the left hemithorax.",  # month/day without a year reads as a fraction
    "MR angiography recommended; MS lesion history.",
    "Heart size normal. No pneumothorax. ET tube 4.5 cm above the carina.",
    "Dr. XXXX was notified on XXXX at XXXX.",  # Open-i placeholders
    "Signed by ___ on ___.",  # MIMIC-CXR placeholders
    "Study on [**2119-3-14**] by Dr. [**First Name (Titles) **] [**Last Name **].",  # MIMIC-III
    "Dr. [NAME] called [PHONE] on [DATE] re [ID], [EMAIL].",  # our own placeholders: a redacted text scans clean
    "Pressure 120/80; SpO2 95%; 1.2.3 version",
])
def test_false_positives_and_placeholders_are_not_flagged(text: str) -> None:
    assert kinds(text) == []


def test_masks_keep_a_hint_only() -> None:
    assert mask("name", "John Smith") == "J**** S****"
    assert mask("phone", "555-123-1234") == "***-***-1234"
    assert mask("email", "jane.doe@hospital.org") == "j***@***.org"
    assert mask("date", "03/14/2021") == "**/**/2021"
    assert mask("date", "March 14, 2021") == "*** **, 2021"
    assert mask("id", "12345678") == "******78"
    [finding] = deid_scan("Dr. John Smith")
    assert finding.masked == "J**** S****"


def test_redaction_replaces_spans_with_typed_placeholders_and_keeps_the_rest() -> None:
    text = "FINDINGS: Small effusion. Dr. John Smith called 555-123-4567 on 03/14/2021 (MRN 12345678, j@x.org)."
    redacted, found = deid_redact(text)
    assert redacted == "FINDINGS: Small effusion. Dr. [NAME] called [PHONE] on [DATE] (MRN [ID], [EMAIL])."
    assert sorted({f.kind for f in found}) == ["date", "email", "id", "name", "phone"]
    assert deid_scan(redacted) == []
    assert deid_redact("No identifiers here.") == ("No identifiers here.", [])


def test_tally_counts_lines_and_masked_examples() -> None:
    tally = FindingsTally(policy="warn", max_items=2)
    tally.add(2, deid_scan("Dr. John Smith on 03/14/2021"))
    tally.add(5, deid_scan("Call 555-123-4567"))
    summary = tally.as_dict()
    assert summary["total"] == 3 and summary["counts"] == {"date": 1, "phone": 1, "name": 1}
    assert summary["lines"] == {"date": [2], "phone": [5], "name": [2]}
    assert summary["items"] == [{"line": 2, "kind": "name", "example": "J**** S****"},
                                {"line": 2, "kind": "date", "example": "**/**/2021"}]
    assert summary["truncated"] is True
    text = deid_summary_text(summary)
    assert "name: 1 (line 2; e.g. J**** S****)" in text and "John" not in text


# --- the prefilters skip a pattern only where it cannot match -------------------------------
FRAGMENTS = [
    "Dr.", "Dr", "Mr", "MRS.", "MS.", "Ms", "Prof.", "John", "Smith", "O'Brien", "J.", "by", "signed", "Dictated",
    "READ", "reviewed", "MRN", "MR #", "mr#", "Accession", "acc#", "Patient ID", "pt. id", "unit no.", "medical record",
    "03/14/2021", "3-14-21", "2021-03-14", "1.2.21", "March", "Sept.", "14", "2019", "3rd", "12345678", "555", "123",
    "4567", "(555)", "+1", "-", "/", ".", ",", ":", "#", "@", "jane.doe@x.org", "a@b", "XXXX", "xxx", "___", "[**",
    "**]", "[DATE]", "[", "T12", "C5-C6", "5.5", "x", "cm", "\n", "\t", "\x1c", " ", "  ", "é", "×", "١٢٣", "İ", "ſ",
]


def reference_scan(text: str) -> list[tuple[str, int, int, str]]:
    """`deid_scan` as it was before the prefilters: every pattern over every text."""
    from privacy.deid import _PATTERNS, _PLACEHOLDER_RE

    scanned = _PLACEHOLDER_RE.sub(lambda m: " " * (m.end() - m.start()), text)
    taken: list[tuple[int, int]] = []
    found: list[tuple[str, int, int, str]] = []
    for kind, pattern, group in _PATTERNS:
        for m in pattern.finditer(scanned):
            start, end = m.span(group)
            if start == end or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((kind, start, end, text[start:end]))
    return sorted(found, key=lambda f: f[1])


def test_scan_finds_what_every_pattern_over_every_text_finds() -> None:
    import random

    rng = random.Random(19)
    texts = [
        "".join(rng.choice(FRAGMENTS) + rng.choice(["", " ", " ", "\n", "-", "/", "."]) for _ in range(rng.randint(1, 25)))
        for _ in range(4000)
    ]
    assert sum(bool(reference_scan(t)) for t in texts) > 1000  # the texts do hold identifiers
    for text in texts:
        assert [(f.kind, f.start, f.end, f.text) for f in deid_scan(text)] == reference_scan(text), text
