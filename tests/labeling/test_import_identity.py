"""The importer's output, pinned: stored reports, de-identified text, sections, errors.

Speed work on the import (one streaming pass, a spool file, COPY / executemany,
prefiltered de-identification patterns, faster section splitting) must not
change what is stored or reported. This test imports a fixed sequence of files
(CSV and JSONL; MIMIC-CXR, CheXpert labeler and CheXbert conventions; PHI-like
text, placeholders, non-ASCII text, headings in every form; good files,
re-imports and files with every kind of bad row) under each de-identification
policy, and compares everything observable with
``tests/fixtures/import_identity.json``, which was written by the importer as it
was before that work (commit b2bf0ec, this test file copied into a checkout of it).
Every text is written for this test (no Open-i report, whose licence keeps it
out of the repository).

A deliberate change of what the importer stores or reports regenerates it:

    CHEXGOLD_WRITE_IMPORT_IDENTITY=1 .venv/bin/python -m pytest tests/labeling/test_import_identity.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labeling.models import ImportBatch, Report
from labeling.services.report_import import report_import

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "import_identity.json"
POLICIES = ("warn", "block", "redact")

MIMIC_FULL = (
    "                                 FINAL REPORT\n"
    " EXAMINATION:  CHEST (PA AND LAT)\n \n"
    " INDICATION:  ___-year-old woman with cough.  Query chest infection.\n \n"
    " TECHNIQUE:  Frontal and side radiographs were taken upright.\n \n"
    " COMPARISON:  Chest radiographs ___ through ___.\n \n"
    " FINDINGS:\n \n"
    " Heart appears moderately large for this patient. Ill-defined opacity about both hila,\n"
    " which could reflect early interstitial fluid. No pneumothorax.\n \n"
    " IMPRESSION:\n \n"
    " 1. Early interstitial fluid is possible.\n 2. Trace fluid at both costophrenic angles."
)
PHI_NOTE = (
    "CLINICAL HISTORY: Fall. MRN: 12345678, accession number: 9876543.\n"
    "FINDINGS: Small left effusion, unchanged since 03/14/2021 and 2021-03-15. "
    "Dr. John Smith was notified at (555) 123-4567 and 555.987.6543; e-mail j.smith@hospital.org.\n"
    "IMPRESSION: Effusion.\nDictated by: Jane Q. Doe, MD  Signed by Dr. Adams on 14 March 2021."
)
ONE_LINE = "INDICATION: fever. FINDINGS: clear lungs. Impression: none. IMPRESSION: normal. HISTORY: none"
NUMBERS = (
    "Findings:  2 cm nodule at T12; C5-C6 disc; 5.5 x 3.2 cm mass, series 3 image 45, upper 1/3.\n"
    "  clinical   history : DOB 3-14-21, seen March 2019 and March 3, 2020; prior study of 2019.\n"
    "unit no. 1234567 pt. id: AB12345 Patient ID 77-88-99 acc# 5551234 MR # 0012345 medical record no. 00123\n"
    "reason for exam:\tpain\nImpressions:\r\nNo change.\r\n"
)
NON_ASCII = (
    "FINDINGS: 5 × 3 cm opacity near the hilum; 38 °C. Seen 14 March 2021 by Dr. Müller (Zürich).\n"
    "IMPRESSION: Mass. Call +1 555 234 5678 or ünïcode@exämple.org. ID ١٢٣٤٥٦٧٨ and 1234567.\n"
    "MEDİCAL RECORD 1234567; ſigned by Dr. Kelvin; DICTATED BY: ÉMILE ZOLA."
)
PLACEHOLDERS = (
    "Comparison: [**2119-3-14**] and XXXX; Dr. XXXX reviewed on ___.\n"
    "FINDINGS: [DATE] [NAME] [ID] xxxxx ____ clear.\nconclusion: normal"
)
NO_HEADINGS = "Cardiac size within limits. Both lungs free of consolidation. No fluid and no air in the pleural space. Reported by Mr. O'Brien-Smith."


def csv_quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


FILES: list[tuple[str, bytes]] = [
    # MIMIC-CXR: subject_id/study_id/study_date, text column "text", extra metadata.
    (
        "mimic.csv",
        (
            "subject_id,study_id,study_date,view,text\n"
            f"10001,S1, 2024-03-05 ,PA,{csv_quote(MIMIC_FULL)}\n"
            f"10001,S2,2024-03-06T10:00:00,AP,{csv_quote(PHI_NOTE)}\n"
            f"10002, S3 ,,lateral,{csv_quote(ONE_LINE)}\n"
            f"10003,S4,,,{csv_quote(NUMBERS)}\n"
            "\n"
            f"10004,S5,2023-12-31,PA,{csv_quote(NON_ASCII)}\n"
            f"10001,S1, 2024-03-05 ,PA,{csv_quote(MIMIC_FULL)}\n"
            f"10005,S6,,,{csv_quote(PLACEHOLDERS)}\n"
        ).encode(),
    ),
    # The CheXpert labeler's input: a headerless one-column CSV, ids from the text.
    (
        "chexpert.csv",
        (
            f"{csv_quote(NO_HEADINGS)}\r\n"
            "Nothing acute in the chest today.\r\n"
            "\r\n"
            f"{csv_quote(PHI_NOTE)}\r\n"
            "Nothing   acute in the chest today.\r\n"
        ).encode(),
    ),
    # CheXbert's column name, a BOM, an accession id column.
    (
        "chexbert.csv",
        (
            "\ufeffaccession,Report Impression,site\n"
            f"A-1,{csv_quote(ONE_LINE + ' FINDINGS:again. OPINION: fine')},north\n"
            "A-2,Cardiac size unremarkable.,south\n"
        ).encode(),
    ),
    (
        "reports.jsonl",
        "\n".join(
            json.dumps(obj, ensure_ascii=ascii_only)
            for obj, ascii_only in [
                ({"id": 7, "text": MIMIC_FULL.replace("___", "[redacted]"), "patient_id": 42, "study_date": "2022-01-02"}, True),
                ({"report": PHI_NOTE, "ward": "ICU", "extra": {"a": [1, 2]}, "flag": True}, True),
                ({"uid": "u-9", "text": NON_ASCII, "subject_id": "P9"}, False),
                ({"id": "8", "text": "Clear.", "study_date": None, "patient_id": None}, True),
            ]
        ).encode()
        + b"\n\n",
    ),
    ("mimic-again.csv", b""),  # filled in below: the MIMIC file again (nothing new)
    # Every kind of bad CSV row, plus conflicts with what is stored.
    (
        "bad.csv",
        (
            "id,patient_id,study_date,Reports\n"
            "B1,P1,2024-01-01,Clear.\n"
            "B2,P1,,\n"
            "B3,P1,2024-13-40,Clear.\n"
            f"B4,P1,,{csv_quote(PHI_NOTE)},extra\n"
            "S1,P1,,Changed text for a stored id.\n"
            "B1,P1,,Different text for B1.\n"
            "B1,P1,2024-01-01,Clear.\n"
        ).encode()
        + b"B5,P1,,Caf\xe9 au lait. Dr. Bad Byte 555-123-4567.\n"
        + b"B6,P1,,NUL \x00 byte\n"
        + ("B7,P1,,Seen 03/14/2021 by Dr. Jones.\n" + "B8,P1,," + "x" * 120 + "\n" + f"{'I' * 201},P1,,Long id.\n").encode(),
    ),
    (
        "bad.jsonl",
        (
            b'{"id": 1, "text": "ok"}\n'
            b'{"id": 2, "text": \n'
            b'["not", "an", "object"]\n'
            b'{"id": 3, "text": 5}\n'
            b'{"id": [3], "text": "list id"}\n'
            b'{"id": 4}\n'
            b'{"id": 1, "text": "not ok, seen 2021-03-14"}\n'
            b'{"id": "7", "text": "Changed."}\n'
        ),
    ),
    ("malformed.csv", b'id,Reports\n1,"Fine."\n2,"Unterminated quote\nstill going\n'),
    ("wrong-columns.csv", b"id,body\n1,Clear.\n"),
    ("duplicate-columns.csv", b"id,Reports,Reports\n1,a,b\n"),
    ("blank.csv", b"id,Reports\n\n\n"),
    ("empty.jsonl", b"  \n\n"),
]
FILES[4] = ("mimic-again.csv", FILES[0][1])


def report_state(report: Report) -> dict[str, object]:
    return {
        "external_id": report.external_id,
        "patient_id": report.patient_id,
        "study_date": report.study_date.isoformat() if report.study_date else None,
        "metadata": json.dumps(report.metadata, sort_keys=True),
        "text": report.text,
        "text_sha256": report.text_sha256,
        "redacted_kinds": report.redacted_kinds,
        "sections": report.sections,
    }


def import_sequence(tmp_path: Path) -> list[dict[str, object]]:
    """Import FILES in order; everything observable about each import."""
    steps: list[dict[str, object]] = []
    for name, content in FILES:
        path = tmp_path / name
        path.write_bytes(content)
        result = report_import(path=path)
        batch = ImportBatch.objects.get(id=result.batch.id)
        created = Report.objects.filter(id__in=result.created_ids).order_by("id")
        steps.append({
            "file": name,
            "ok": result.ok,
            "rows_read": result.rows_read,
            "created": len(result.created_ids),
            "rows_unchanged": result.rows_unchanged,
            "errors": [[e.line, e.column, e.message] for e in result.errors],
            "deid": json.loads(json.dumps(result.deid, sort_keys=True)),
            "batch": {
                "status": batch.status, "rows_read": batch.rows_read, "rows_created": batch.rows_created,
                "rows_unchanged": batch.rows_unchanged, "message": batch.message, "errors": batch.errors,
                "deid_findings": json.loads(json.dumps(batch.deid_findings, sort_keys=True)),
                "progress": batch.progress,
            },
            "reports": [report_state(r) for r in created],
            "created_ids_in_file_order": [r.id for r in created] == list(result.created_ids),
        })
    steps.append({"all_reports": [report_state(r) for r in Report.objects.order_by("id")]})
    return steps


@pytest.mark.parametrize("policy", POLICIES)
def test_import_output_is_as_before(tmp_path: Path, settings, policy: str) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = policy
    settings.CHEXGOLD_MAX_REPORT_CHARS = 1000
    steps = import_sequence(tmp_path)
    if os.environ.get("CHEXGOLD_WRITE_IMPORT_IDENTITY"):
        pinned = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        pinned[policy] = steps
        FIXTURE.write_text(json.dumps(pinned, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        pytest.skip("fixture written")
    expected = json.loads(FIXTURE.read_text())[policy]
    assert len(steps) == len(expected)
    for got, want in zip(steps, expected, strict=True):
        assert got == want
