"""Golden output of the rule labeler: every label and every evidence span.

Speed work on ``labeling.rules`` (combined regexes, caches, a process pool)
must not change a single label or offset. This test pins the output of the
rules as they were before that work, on:

(a) the demo reports (``demo/reports.csv``, written for this project): the full
    expected output of ``auto`` is committed in
    ``tests/fixtures/rules_golden_demo.jsonl`` (one line per report, so a rule
    change shows as a readable diff), the ``impression`` and ``full`` modes as
    a sha256 digest;
(b) the Open-i dev reports (``../shared/data/openi-dev``) when present: only a
    sha256 digest per mode, since their licence forbids copying them (or
    output quoting them) into the repository;
(c) odd texts written here (unicode that changes length when lower-cased,
    curly apostrophes, binary, list markers, abbreviations).

A deliberate rule change (``RULES_VERSION`` bump) regenerates all of it:

    .venv/bin/python -m tests.labeling.test_rules_golden --write
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from labeling.rules import RULES_VERSION, ReportLabels, label_report
from labeling.rules.labeler import clear_caches

REPO = Path(__file__).resolve().parents[2]
DEMO_CSV = REPO / "demo" / "reports.csv"
FIXTURE = REPO / "tests" / "fixtures" / "rules_golden_demo.jsonl"
DIGESTS = REPO / "tests" / "fixtures" / "rules_golden_digests.json"
MODES = ("auto", "impression", "full")

Labeler = Callable[[list[str], str], list[ReportLabels]]


def openi_dir() -> Path | None:
    """``shared/data/openi-dev`` next to the checkout or above it (a worktree
    lives one level deeper than the main checkout)."""
    for parent in REPO.parents:
        candidate = parent / "shared" / "data" / "openi-dev" / "reports.csv"
        if candidate.is_file():
            return candidate.parent
    return None


def read_reports(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [(row["id"], row["Reports"]) for row in csv.DictReader(fh)]


def odd_texts() -> list[tuple[str, str]]:
    texts = [
        "",
        "   \n\t ",
        "\x00\x01\x02 12.5 %%% ---",
        "İstanbul İİİ: mild cardiomegaly. No pleural effusion.",
        "There’s no pneumothorax. The heart isn’t enlarged.",
        "FINDINGS: 1. Small left effusion. 2. Stable cardiomegaly.\nIMPRESSION: Possible pneumonia vs. atelectasis.",
        "Findings: approx. 1.5 cm nodule, e.g. granuloma. Dr. Smith was notified.\n\n- No edema.\n- Lines and tubes unchanged.",
        "IMPRESSION: If there is concern for fracture, consider rib films. History of pneumonia. No effusion; "
        "mild edema but no consolidation.",
        "INDICATION: rule out pneumonia.\nCOMPARISON: None.",
        "Differential considerations include infection and mild edema, however no effusion.",
        "heart size, mediastinum, and hila are normal. cardiomegaly, lungs are clear.",
        "NO ACUTE CARDIOPULMONARY PROCESS. ENDOTRACHEAL TUBE IN PLACE.",
        "Lungs clear.\u2028Heart normal.\u00a0No effusion\u3002 Pneumothorax？",
        "x" * 3000 + " pneumonia. " + "no effusion. " * 200,
    ]
    return [(f"odd-{i}", t) for i, t in enumerate(texts)]


def serialise(report_id: str, result: ReportLabels) -> dict[str, object]:
    """One report's output: non-blank labels and every evidence item."""
    return {
        "id": report_id,
        "labels": {k: v for k, v in result.labels.items() if v != "blank"},
        "evidence": result.evidence_as_json(),
    }


def dump_line(record: dict[str, object]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _one_by_one(texts: list[str], section: str) -> list[ReportLabels]:
    return [label_report(t, section) for t in texts]


def output_lines(reports: list[tuple[str, str]], section: str, labeler: Labeler = _one_by_one) -> list[str]:
    results = labeler([t for _, t in reports], section)
    assert len(results) == len(reports)
    return [dump_line(serialise(rid, r)) for (rid, _), r in zip(reports, results, strict=True)]


def digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def expected_digests() -> dict[str, str]:
    data = json.loads(DIGESTS.read_text(encoding="utf-8"))
    assert data["rules_version"] == RULES_VERSION, (
        f"golden output was made with rules {data['rules_version']}, these are {RULES_VERSION}: "
        "regenerate with .venv/bin/python -m tests.labeling.test_rules_golden --write"
    )
    return dict(data["digests"])


def _first_difference(expected: list[str], got: list[str]) -> str:
    for want, have in zip(expected, got, strict=False):
        if want != have:
            return f"first difference:\n  expected {want[:2000]}\n  got      {have[:2000]}"
    return f"{len(expected)} lines expected, {len(got)} produced"


def test_demo_reports_auto_match_the_committed_output() -> None:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["rules_version"] == RULES_VERSION, "regenerate: python -m tests.labeling.test_rules_golden --write"
    got = output_lines(read_reports(DEMO_CSV), "auto")
    assert got == lines[1:], _first_difference(lines[1:], got)


def test_output_does_not_depend_on_what_was_labelled_before() -> None:
    """The labeler caches sentences by text: a cold cache, a cache cleared
    before every report and a cache warmed in another order give the same output."""
    expected = FIXTURE.read_text(encoding="utf-8").splitlines()[1:]
    reports = read_reports(DEMO_CSV)

    def cleared_each_time(texts: list[str], section: str) -> list[ReportLabels]:
        results = []
        for t in texts:
            clear_caches()
            results.append(label_report(t, section))
        return results

    assert output_lines(reports, "auto", cleared_each_time) == expected
    clear_caches()
    shuffled = list(enumerate(reports))
    random.Random(19).shuffle(shuffled)
    got = dict(zip([i for i, _ in shuffled], output_lines([r for _, r in shuffled], "auto"), strict=True))
    assert [got[i] for i in range(len(reports))] == expected


@pytest.mark.parametrize("section", ["impression", "full"])
def test_demo_reports_other_modes_match_the_digest(section: str) -> None:
    assert digest(output_lines(read_reports(DEMO_CSV), section)) == expected_digests()[f"demo/{section}"]


@pytest.mark.parametrize("section", MODES)
def test_odd_texts_match_the_digest(section: str) -> None:
    assert digest(output_lines(odd_texts(), section)) == expected_digests()[f"odd/{section}"]


@pytest.mark.parametrize("section", MODES)
def test_openi_dev_reports_match_the_digest(section: str) -> None:
    data = openi_dir()
    if data is None:
        pytest.skip("../shared/data/openi-dev not present (licensed data, never copied into the repository)")
    assert digest(output_lines(read_reports(data / "reports.csv"), section)) == expected_digests()[f"openi/{section}"]


def write() -> None:
    """Regenerate the fixture and the digests from the current rules."""
    demo = read_reports(DEMO_CSV)
    lines = output_lines(demo, "auto")
    header = dump_line({"rules_version": RULES_VERSION, "source": "demo/reports.csv", "section": "auto"})
    FIXTURE.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    digests = {f"demo/{m}": digest(output_lines(demo, m)) for m in MODES}
    digests |= {f"odd/{m}": digest(output_lines(odd_texts(), m)) for m in MODES}
    data = openi_dir()
    if data is None:
        raise SystemExit("openi-dev not found: its digests would be lost; run where ../shared/data/openi-dev exists")
    openi = read_reports(data / "reports.csv")
    digests |= {f"openi/{m}": digest(output_lines(openi, m)) for m in MODES}
    DIGESTS.write_text(
        json.dumps({"rules_version": RULES_VERSION, "digests": digests}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {FIXTURE.relative_to(REPO)} ({len(lines)} reports) and {DIGESTS.relative_to(REPO)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.labeling.test_rules_golden --write")
    write()
