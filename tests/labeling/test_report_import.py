"""The importer: every convention, every kind of bad row by line, idempotency, all-or-nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import ImportBatch, MachinePrediction, Report
from labeling.services.report_import import report_import

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("text_column", ["Reports", "Report Impression", "report", "text"])
@pytest.mark.parametrize("id_column", ["id", "study_id", "uid", "accession"])
def test_csv_conventions_for_text_and_id_columns(tmp_path: Path, text_column: str, id_column: str) -> None:
    path = write(tmp_path, "r.csv", f'{id_column},"{text_column}"\nA1,"No acute disease."\nA2,"Small left effusion."\n')
    result = report_import(path=path)
    assert result.ok, result.errors
    assert sorted(Report.objects.values_list("external_id", flat=True)) == ["A1", "A2"]


def test_metadata_patient_and_date_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path, "r.csv",
        "study_id,patient_id,study_date,site,Reports\nS1,P9,2024-03-05,north,\"FINDINGS: Clear.\nIMPRESSION: Normal.\"\n",
    )
    assert report_import(path=path).ok
    report = Report.objects.get()
    assert report.study_date is not None
    assert (report.patient_id, report.study_date.isoformat(), report.metadata) == ("P9", "2024-03-05", {"site": "north"})
    names = [s[0] for s in report.sections]
    assert names == ["findings", "impression"]
    start, end = report.sections[1][2:]
    assert report.text[start:end] == "Normal."


def test_headerless_single_column_csv_gets_stable_hash_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", 'No acute disease.\n"Heart is enlarged, lungs clear."\n')
    assert report_import(path=path).ok
    ids = set(Report.objects.values_list("external_id", flat=True))
    assert len(ids) == 2 and all(i.startswith("sha256-") for i in ids)
    # The same texts under another file name give the same ids: nothing new.
    again = report_import(path=write(tmp_path, "copy.csv", path.read_text()))
    assert again.ok and again.created_ids == [] and Report.objects.count() == 2


def test_jsonl_with_text_or_report_key(tmp_path: Path) -> None:
    lines = [{"id": 7, "text": "Clear lungs."}, {"report": "Mild cardiomegaly.", "ward": "ICU"}]
    path = write(tmp_path, "r.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert report_import(path=path).ok
    assert Report.objects.get(external_id="7").text == "Clear lungs."
    assert Report.objects.exclude(external_id="7").get().metadata == {"ward": "ICU"}


def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "id,Reports\n1,Clear.\n2,Effusion.\n")
    first = report_import(path=path)
    before = list(Report.objects.order_by("id").values_list("id", "external_id", "text", "created_at"))
    second = report_import(path=path)
    assert len(first.created_ids) == 2 and second.ok and second.created_ids == [] and second.rows_unchanged == 2
    assert list(Report.objects.order_by("id").values_list("id", "external_id", "text", "created_at")) == before


@pytest.mark.parametrize(
    "content, line, fragment",
    [
        ("id,Reports\n1,Clear.\n2,\n3,Fine.\n", 3, "missing report text"),
        ("id,Reports\n1,Clear.\n2,Fine.\n1,Different.\n", 4, "duplicate id '1' with different text (first at line 2)"),
        (b"id,Reports\n1,Clear.\n2,Caf\xe9 bad\n", 3, "not UTF-8"),
        ("id,Reports\n1,Clear.\n2,\"multi\nline\"\n3,a,b\n", 5, "wrong number of fields: 3"),
        ('{"id": 1, "text": "ok"}\n{"id": 2, "text": \n', 2, "not valid JSON"),
        ('{"id": 1, "text": "ok"}\n["x"]\n', 2, "not a JSON object"),
        ('{"id": 1, "text": "ok"}\n{"id": 2}\n', 2, "missing report text"),
        ("id,study_date,Reports\n1,2024-13-40,Clear.\n", 2, "is not a date"),
    ],
)
def test_each_bad_row_is_reported_by_line_and_nothing_is_written(tmp_path: Path, content: str | bytes, line: int, fragment: str) -> None:
    suffix = ".jsonl" if (content[:1] in ("{", b"{")) else ".csv"
    path = write(tmp_path, "bad" + suffix, content)
    result = report_import(path=path)
    assert not result.ok
    assert any(e.line == line and fragment in e.message for e in result.errors), result.errors
    assert Report.objects.count() == 0
    batch = ImportBatch.objects.get(id=result.batch.id)
    assert batch.status == ImportBatch.Status.FAILED and batch.errors[0]["line"] == line


def test_text_over_the_size_limit(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_MAX_REPORT_CHARS = 50
    path = write(tmp_path, "r.csv", "id,Reports\n1,Clear.\n2," + "x" * 60 + "\n")
    result = report_import(path=path)
    assert [(e.line, "over the limit of 50" in e.message) for e in result.errors] == [(3, True)]


def test_wrong_column_set_is_a_file_error(tmp_path: Path) -> None:
    result = report_import(path=write(tmp_path, "r.csv", "id,body\n1,Clear.\n"))
    assert not result.ok and "wrong column set" in result.errors[0].message
    assert result.errors[0].line == 0


def test_same_id_already_stored_with_other_text_is_rejected(tmp_path: Path) -> None:
    assert report_import(path=write(tmp_path, "a.csv", "id,Reports\n1,Clear.\n")).ok
    result = report_import(path=write(tmp_path, "b.csv", "id,Reports\n2,New.\n1,Changed.\n"))
    assert [(e.line, e.message) for e in result.errors] == [(3, "id '1' is already stored with a different text")]
    assert set(Report.objects.values_list("external_id", flat=True)) == {"1"}


def test_every_bad_row_is_listed_not_just_the_first(tmp_path: Path) -> None:
    result = report_import(path=write(tmp_path, "r.csv", "id,Reports\n1,\n2,ok\n3,\n"))
    assert [e.line for e in result.errors] == [2, 4]


def test_command_exits_non_zero_with_line_numbers_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "id,Reports\n1,\n")
    with pytest.raises(CommandError) as info:
        call_command("import_reports", str(path), "--no-label")
    assert "line 2" in str(info.value) and "missing report text" in str(info.value)


def test_command_reports_a_missing_file_clearly(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("import_reports", str(tmp_path / "nope.csv"), "--no-label")


def test_command_imports_and_stores_rule_labels(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "id,Reports\n1,Large right pleural effusion.\n")
    call_command("import_reports", str(path))
    prediction = Report.objects.get().predictions.get(source="rules")
    assert prediction.labels["Pleural Effusion"] == "positive"
    assert prediction.evidence is not None and prediction.evidence["Pleural Effusion"]


def test_command_rule_labels_a_large_import_in_the_foreground_with_progress_on_stderr(tmp_path: Path) -> None:
    # Over the 2,000 reports that used to be queued for a worker instead.
    rows = "".join(f"{i},{'Small left pleural effusion.' if i % 2 else 'Lungs are clear.'} Study {i}.\n" for i in range(2100))
    path = write(tmp_path, "r.csv", "id,Reports\n" + rows)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_reports", str(path), stdout=out, stderr=err)
    assert "rule labels stored for 2100 report(s)" in out.getvalue()
    assert "rule labels: 2,100/2,100 (100%)" in err.getvalue()
    assert MachinePrediction.objects.filter(source="rules").count() == 2100


def test_command_leaves_rule_labelling_to_a_worker_when_told(tmp_path: Path, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "r.csv", "id,Reports\n1,Large right pleural effusion.\n")
    out, err = io.StringIO(), io.StringIO()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command("import_reports", str(path), "--label-in-background", stdout=out, stderr=err)
    assert "rule labelling of 1 report(s) queued" in out.getvalue() and err.getvalue() == ""
    # the rule labelling task, the active model's labels on the gpu queue, the queue order, the statistics refresh
    assert len(queued) == 4
    assert not MachinePrediction.objects.exists()
