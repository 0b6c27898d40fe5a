"""A fast scanner for identifiers left in report text. Plain Python, no Django.

`deid_scan(text)` returns `Finding`s of five kinds:

- ``date``:  full dates (03/14/2021, 2021-03-14, 14 March 2021, March 14, 2021,
  DOB 3-14-21) and month + year ("March 2019"), since HIPAA Safe Harbor treats
  every date element but the year as identifying. A year alone ("prior study of
  2019") and a month/day without a year ("upper 1/3") are NOT flagged: years are
  allowed by Safe Harbor, and slashes without a year are usually fractions.
- ``phone``: North-American style numbers (555-123-4567, (555) 123-4567, +1 ...).
- ``email``: addresses.
- ``id``:    MRN / accession / patient-id labelled numbers, and any run of 7+ digits.
- ``name``:  a capitalised name after a title (Dr., Mr., Mrs., Ms., Prof.) or in a
  "dictated / signed / reported / read / transcribed / verified by" line.

Text that is already de-identified is skipped: placeholders ``XXXX`` (Open-i),
``___`` (MIMIC-CXR), ``[**...**]`` (MIMIC-III) and this module's own ``[DATE]``
etc. are blanked before scanning, so "Dr. XXXX" or "[**2119-3-14**]" is no
finding and a redacted text scans clean.

Radiology phrasing that must not be flagged ("2 cm nodule", "T12 vertebra",
"AP view", "5.5 x 3.2 cm", "C5-C6", "L1", "series 3 image 45") has tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KINDS = ("date", "phone", "email", "id", "name")
PLACEHOLDERS = {"date": "[DATE]", "phone": "[PHONE]", "email": "[EMAIL]", "id": "[ID]", "name": "[NAME]"}
POLICIES = ("warn", "block", "redact")

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)

_PLACEHOLDER_RE = re.compile(r"\[\*\*.*?\*\*\]|(?i:x{3,})|_{3,}|\[(?:DATE|PHONE|EMAIL|ID|NAME)\]", re.S)

# Each entry: (kind, pattern, group holding the identifying span).
_PATTERNS: list[tuple[str, re.Pattern[str], int]] = [
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), 0),
    # Phones before dates and ids, so 555-123-4567 is one phone, not an id.
    ("phone", re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"), 0),
    ("date", re.compile(r"(?<![\w/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\w/-]|\.\d)"), 0),
    ("date", re.compile(r"(?<![\w-])(?:19|20|21)\d{2}-\d{1,2}-\d{1,2}(?![\w-])"), 0),
    ("date", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+\d{{4}}\b"), 0),
    ("date", re.compile(rf"\b{_MONTH}\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?\d{{4}}\b"), 0),
    (
        "id",
        re.compile(
            r"(?i:\b(?:MRN|MR\s?#|medical\s+record(?:\s+(?:number|no\.?))?|accession(?:\s+(?:number|no\.?))?|acc\s?#|"
            r"patient\s+id|pt\.?\s+id|unit\s+(?:number|no\.?))[ \t]*(?:is\b|[#:]+)?[ \t]*)([A-Za-z]{0,3}\d[\d-]{3,}\w*)"
        ),
        1,
    ),
    ("id", re.compile(r"(?<![\w.])\d{7,}(?![\w.])"), 0),
    (
        "name",
        re.compile(
            r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|DR|MRS)\b\.?|\b(?:MR|MS)\.)[ \t]+"
            r"([A-Z][A-Za-z'’-]+(?:[ \t]+[A-Z]\.)?(?:[ \t]+(?!(?:was|is|and|at|on|by|of|the)\b)[A-Z][A-Za-z'’-]+)?)"
        ),
        1,
    ),
    (
        "name",
        re.compile(
            r"(?i:\b(?:dictated|signed|reported|read|transcribed|verified|reviewed|approved|interpreted)\s+by)[ \t]*:?[ \t]*"
            r"(?:(?:Dr|DR)\.?[ \t]+)?"
            r"([A-Z][A-Za-z'’-]+(?:,?[ \t]+[A-Z][A-Za-z'’.-]*){0,3})"
        ),
        1,
    ),
]


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int  # offsets into the scanned text (Python str indices)
    end: int
    text: str

    @property
    def masked(self) -> str:
        return mask(self.kind, self.text)


def _blank_placeholders(text: str, lower: str | None = None) -> str:
    # Every placeholder holds "[", "___" or "xxx" in some case; most reports hold none.
    if "[" not in text and "___" not in text and "xxx" not in (text.lower() if lower is None else lower):
        return text
    return _PLACEHOLDER_RE.sub(lambda m: " " * (m.end() - m.start()), text)


# Prefilters: a cheap test per pattern of something every match of it contains,
# so that a pattern is only run over texts it could match. Each regex costs
# ~10 µs per report even when it finds nothing (Python's engine tries every
# position), and most reports hold no identifier: this is most of the import's
# de-identification time. The tests run on the "shape" of an ASCII text (digits
# as 9, whitespace as a space, other bytes as they are) and on its lower case;
# they are necessary conditions only for ASCII text (for other text `\d`, `\s`
# and case-insensitive matching reach beyond ASCII), so a non-ASCII text runs
# every pattern. `tests/privacy/test_deid.py` compares the result with running
# every pattern on many texts.
_SHAPE = bytes.maketrans(
    bytes(range(128)),
    bytes(ord("9") if chr(i).isdigit() else ord(" ") if chr(i).isspace() else i for i in range(128)),
)


def _patterns_to_run(scanned: str, lower: str) -> list[tuple[str, re.Pattern[str], int]]:
    """The entries of _PATTERNS that could match `scanned`, in table order."""
    if not scanned.isascii():
        return _PATTERNS
    shape = scanned.encode("ascii").translate(_SHAPE)
    # One name per entry of _PATTERNS, in its order (a new pattern needs its prefilter here).
    email, phone, date_numeric, date_iso, date_day_month, date_month, id_labelled, id_long, name_title, name_signed = (
        _PATTERNS
    )
    run = []
    if "@" in scanned:
        run.append(email)
    if b"9" in shape:
        if b"999 9999" in shape or b"999.9999" in shape or b"999-9999" in shape:  # ...\d{3}[\s.-]\d{4}
            run.append(phone)
        if b"9/9" in shape or b"9.9" in shape or b"9-9" in shape:  # \d{1,2}[/.-]\d{1,2}...
            run.append(date_numeric)
        if b"9999-9" in shape:  # (19|20|21)\d{2}-\d...
            run.append(date_iso)
        if b" 9999" in shape and (  # a year after whitespace, and a month name (case-sensitive)
            "Jan" in scanned or "Feb" in scanned or "Mar" in scanned or "Apr" in scanned or "May" in scanned
            or "Jun" in scanned or "Jul" in scanned or "Aug" in scanned or "Sep" in scanned or "Oct" in scanned
            or "Nov" in scanned or "Dec" in scanned
        ):
            run.append(date_day_month)
            run.append(date_month)
        # MRN, MR #, medical record, accession, acc #, patient id, pt id, unit no (any case), then a digit.
        if "mr" in lower or "medical" in lower or "acc" in lower or "patient" in lower or "pt" in lower or "unit" in lower:
            run.append(id_labelled)
        if b"9999999" in shape:
            run.append(id_long)
    if (  # titles, case-sensitive; "Mr" covers Mrs and "MR" covers MRS
        "Dr" in scanned or "Mr" in scanned or "Ms" in scanned or "Prof" in scanned or "DR" in scanned
        or "MR" in scanned or "MS" in scanned
    ):
        run.append(name_title)
    if "by" in lower and (
        "dictated" in lower or "signed" in lower or "reported" in lower or "read" in lower or "transcribed" in lower
        or "verified" in lower or "reviewed" in lower or "approved" in lower or "interpreted" in lower
    ):
        run.append(name_signed)
    return run


def deid_scan(text: str) -> list[Finding]:
    """Likely identifiers in `text`, ordered by position, never overlapping
    (an earlier pattern in the table wins an overlap)."""
    lower = text.lower()
    scanned = _blank_placeholders(text, lower)
    if scanned is not text:
        lower = scanned.lower()
    taken: list[tuple[int, int]] = []
    found: list[Finding] = []
    for kind, pattern, group in _patterns_to_run(scanned, lower):
        for m in pattern.finditer(scanned):
            start, end = m.span(group)
            if start == end or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append(Finding(kind, start, end, text[start:end]))
    found.sort(key=lambda f: f.start)
    return found


def deid_redact(text: str, findings: Iterable[Finding] | None = None) -> tuple[str, list[Finding]]:
    """`text` with each finding replaced by its typed placeholder ([DATE], [NAME] ...)."""
    found = sorted(deid_scan(text) if findings is None else findings, key=lambda f: f.start)
    if not found:
        return text, []
    parts: list[str] = []
    last = 0
    for f in found:
        parts.append(text[last : f.start])
        parts.append(PLACEHOLDERS[f.kind])
        last = f.end
    parts.append(text[last:])
    return "".join(parts), found


def mask(kind: str, value: str) -> str:
    """A recognisable but non-identifying rendering of a finding for summaries:
    ``Dr. J**** S****``, ``***-***-1234``, ``j***@***.org``, ``**/**/2021``, ``*****67``."""
    if kind == "name":
        return re.sub(r"([A-Za-z])[A-Za-z'’-]*", lambda m: m.group(1) + "****" if len(m.group(0)) > 1 else m.group(0), value)
    if kind == "phone":
        digits = [i for i, c in enumerate(value) if c.isdigit()]
        keep = set(digits[-4:])
        return "".join(c if (i in keep or not c.isdigit()) else "*" for i, c in enumerate(value))
    if kind == "email":
        local, _, domain = value.partition("@")
        tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
        return f"{local[:1]}***@***.{tld}"
    if kind == "date":
        year = re.search(r"(?:19|20|21)\d{2}$", value)
        head, tail = (value[: year.start()], year.group(0)) if year else (value, "")
        return re.sub(r"[A-Za-z]+", "***", re.sub(r"\d", "*", head)) + tail
    # id and anything else: keep the last two characters
    return "*" * max(len(value) - 2, 1) + value[-2:] if len(value) > 2 else "*" * len(value)


class FindingsTally:
    """Accumulates an import's findings in constant memory (counts per kind, the
    lines per kind and the first `max_items` masked examples)."""

    def __init__(self, *, policy: str, max_items: int = 500) -> None:
        self.policy = policy
        self.max_items = max_items
        self.total = 0
        self.counts = {k: 0 for k in KINDS}
        self.lines: dict[str, list[int]] = {k: [] for k in KINDS}
        self.items: list[dict[str, object]] = []

    def add(self, line: int, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.total += 1
            self.counts[f.kind] += 1
            lines = self.lines[f.kind]
            if (not lines or lines[-1] != line) and len(lines) < self.max_items:
                lines.append(line)
            if len(self.items) < self.max_items:
                self.items.append({"line": line, "kind": f.kind, "example": f.masked})

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: {"policy", "total", "counts": {kind: n}, "lines": {kind: [..]},
        "items": [{"line", "kind", "example"}], "truncated"}; {} when nothing was found."""
        if not self.total:
            return {"policy": self.policy, "total": 0, "counts": {}, "lines": {}, "items": [], "truncated": False}
        return {
            "policy": self.policy,
            "total": self.total,
            "counts": {k: v for k, v in self.counts.items() if v},
            "lines": {k: v for k, v in self.lines.items() if v},
            "items": self.items,
            "truncated": self.total > len(self.items),
        }


def deid_summary_text(summary: dict[str, Any]) -> str:
    """One line per kind for command output: ``date: 2 (lines 3, 7; e.g. **/**/2021)``."""
    if not summary or not summary.get("total"):
        return "de-identification check: no likely identifiers found"
    out = [f"de-identification check ({summary['policy']}): {summary['total']} likely identifier(s)"]
    items = summary.get("items") or []
    for kind, n in (summary.get("counts") or {}).items():
        lines = (summary.get("lines") or {}).get(kind, [])
        examples = [i["example"] for i in items if i["kind"] == kind][:3]
        shown = ", ".join(str(x) for x in lines[:20]) + (" ..." if len(lines) > 20 else "")
        out.append(f"  {kind}: {n} (line{'s' if len(lines) != 1 else ''} {shown}; e.g. {', '.join(examples)})")
    return "\n".join(out)
