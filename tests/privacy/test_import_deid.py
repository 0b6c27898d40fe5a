"""Import policies for likely identifiers: warn, block, redact (and idempotency after redact)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from labeling.models import ImportBatch, Report
from labeling.report_files import text_sha256
from labeling.services.report_import import report_import

pytestmark = pytest.mark.django_db

ROWS = [
    ("A1", "FINDINGS: Heart size is normal.\nIMPRESSION: No acute disease."),
    ("A2", "FINDINGS: Small left effusion, unchanged since 03/14/2021. Dr. John Smith was notified at 555-123-4567."),
    ("A3", "IMPRESSION: Clear lungs. Prior study of 2019. 2 cm nodule at T12."),
]


def write_csv(tmp_path: Path, rows: list[tuple[str, str]] = ROWS) -> Path:
    path = tmp_path / "reports.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "Reports"])
        w.writerows(rows)
    return path


def test_warn_imports_and_reports_findings_by_line_masked(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "warn"
    result = report_import(path=write_csv(tmp_path))
    assert result.ok and len(result.created_ids) == 3
    batch = ImportBatch.objects.get(id=result.batch.id)
    f = batch.deid_findings
    assert f["policy"] == "warn" and f["total"] == 3
    assert f["counts"] == {"date": 1, "phone": 1, "name": 1}
    assert {i["line"] for i in f["items"]} == {4}  # header is line 1; A1 spans lines 2-3; A2 starts on line 4
    assert {"example": "***-***-4567", "kind": "phone", "line": 4} in f["items"]
    assert "John" not in str(f) and "03/14" not in str(f)
    assert Report.objects.get(external_id="A2").text == ROWS[1][1]  # stored as given
    assert Report.objects.get(external_id="A2").redacted_kinds == []
    assert "likely identifiers found" in batch.message


def test_block_imports_nothing_and_lists_every_finding_as_a_row_error(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "block"
    result = report_import(path=write_csv(tmp_path))
    assert not result.ok and Report.objects.count() == 0
    batch = ImportBatch.objects.get(id=result.batch.id)
    assert batch.status == ImportBatch.Status.FAILED
    assert [(e["line"], e["column"]) for e in batch.errors] == [(4, "text")] * 3
    assert {e["message"] for e in batch.errors} == {
        "likely identifier (date): **/**/2021", "likely identifier (name): J**** S****", "likely identifier (phone): ***-***-4567"}


def test_redact_stores_placeholders_hashes_the_original_and_stays_idempotent(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "redact"
    path = write_csv(tmp_path)
    first = report_import(path=path)
    assert first.ok and len(first.created_ids) == 3
    report = Report.objects.get(external_id="A2")
    assert report.text == ("FINDINGS: Small left effusion, unchanged since [DATE]. Dr. [NAME] was notified at [PHONE].")
    assert report.redacted_kinds == ["date", "name", "phone"]
    assert report.text_sha256 == text_sha256(ROWS[1][1])  # the ORIGINAL text's hash
    assert report.sections and report.sections[-1][3] <= len(report.text)  # offsets into the stored text
    assert Report.objects.get(external_id="A1").redacted_kinds == []
    # Importing the same file again changes nothing (ids and hashes of the original text).
    again = report_import(path=path)
    assert again.ok and again.created_ids == [] and again.rows_unchanged == 3
    # Also under warn: the stored hash is the original's, so the original text matches.
    settings.CHEXGOLD_DEID_POLICY = "warn"
    assert report_import(path=path).rows_unchanged == 3
    # The same id with a really different text is still refused.
    changed = report_import(path=write_csv(tmp_path, [("A2", "FINDINGS: something else.")]))
    assert not changed.ok and "already stored with a different text" in changed.errors[0].message


def test_redacted_text_gets_rule_evidence_on_the_stored_text(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    from labeling.models import MachinePrediction
    from labeling.services.prelabel import new_reports_prelabel

    settings.CHEXGOLD_DEID_POLICY = "redact"
    result = report_import(path=write_csv(tmp_path))
    new_reports_prelabel(report_ids=result.created_ids, inline=True)
    report = Report.objects.get(external_id="A2")
    prediction = MachinePrediction.objects.get(report=report, source="rules")
    spans = [s for spans in (prediction.evidence or {}).values() for s in spans]
    assert spans, "the effusion should have evidence"
    assert any("effusion" in report.text[s["start"]:s["end"]].lower() for s in spans)


def test_command_prints_counts_lines_and_masked_examples(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "warn"
    out = io.StringIO()
    call_command("import_reports", str(write_csv(tmp_path)), "--no-label", stdout=out)
    text = out.getvalue()
    assert "3 likely identifier(s)" in text
    assert "phone: 1 (line 4; e.g. ***-***-4567)" in text and "name: 1 (line 4; e.g. J**** S****)" in text
    assert "John" not in text and "555-123" not in text


def test_import_page_and_api_status_show_masked_findings(tmp_path, settings, make_user) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "warn"
    result = report_import(path=write_csv(tmp_path))
    client = Client()
    client.force_login(make_user("boss", "admin"))
    page = client.get("/manage/imports/").content.decode()
    assert "3 likely identifier(s) (warn)" in page and "J**** S****" in page and "John Smith" not in page
    api = client.get(f"/api/imports/{result.batch.id}/").json()
    assert api["deid_findings"]["counts"] == {"date": 1, "phone": 1, "name": 1}
    status = client.get(f"/manage/imports/{result.batch.id}/status").json()
    assert status["deid_findings"]["total"] == 3


def test_api_upload_under_block_answers_400_with_each_finding(tmp_path, settings, make_user) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_DEID_POLICY = "block"
    client = Client()
    client.force_login(make_user("boss", "admin"))
    with open(write_csv(tmp_path), "rb") as fh:
        response = client.post("/api/imports/", {"file": fh})
    assert response.status_code == 400
    body = response.json()
    assert "likely identifier (phone): ***-***-4567" in str(body) and "555-123" not in str(body)
    assert Report.objects.count() == 0
