"""Importing prior labels (annotator.services.label_import): gold with provenance
and a gold-set version, reads of a reader account that count towards k and
agreement, an external labeler's predictions on the statistics page; every
validation rule; idempotency; the command and the Imports page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.errors import AccountNameInvalid, AccountNotReader
from accounts.roles import Role
from accounts.selectors import user_roles
from annotator import selectors
from annotator.errors import LabelImportInvalid
from annotator.models import ReportPriority
from annotator.services import label_file_import, next_report_assign
from labeling.models import Annotation, GoldLabel, GoldSetMembership, GoldSetVersion, LabelImport, MachinePrediction
from labeling.observations import OBSERVATION_NAMES
from quality.statistics import statistics_cache_clear, statistics_get
from tests.factories import AnnotationFactory, GoldLabelFactory, ReportFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]
HEADER = ",".join(OBSERVATION_NAMES)


def _cells(**values: str) -> str:
    cells = {n: "" for n in OBSERVATION_NAMES}
    for key, value in values.items():
        cells[next(n for n in OBSERVATION_NAMES if n.lower() == key.replace("_", " ").lower())] = value
    return ",".join(cells[n] for n in OBSERVATION_NAMES)


def _file(tmp_path: Path, rows: list[str], name: str = "labels.csv", header: str = f"id,{HEADER}") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def reports() -> list:
    return [ReportFactory(external_id=f"R{i}", text=f"FINDINGS: Report number {i}.\nIMPRESSION: Something {i}.") for i in range(1, 4)]


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user("boss", "admin")


# --- gold ---------------------------------------------------------------------------------
def test_gold_import_writes_imported_gold_with_provenance_and_a_gold_set_version(tmp_path, reports, admin, settings_row) -> None:  # type: ignore[no-untyped-def]
    ReportPriority.objects.create(report=reports[0], basis="x", is_open=True)
    path = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R2," + _cells(edema="-1", pleural_effusion="1.0", fracture="0")])
    result = label_file_import(path=str(path), kind="gold", user=admin)
    assert result.ok and (result.created, result.replaced, result.unchanged) == (2, 0, 0)
    record = LabelImport.objects.get()
    assert (record.filename, record.kind, record.created_by, record.rows_created, record.zero_means) == (
        "labels.csv", "gold", admin, 2, "negative")
    gold = GoldLabel.objects.get(report=reports[1])
    assert gold.method == GoldLabel.Method.IMPORTED and gold.label_import == record and gold.is_current
    assert gold.labels == labels(edema="uncertain", pleural_effusion="positive", fracture="negative")
    # Each gold import is a gold-set version holding the whole current gold set.
    version = GoldSetVersion.objects.get(name=f"import-{record.id}")
    assert record.gold_set_version == version and result.gold_version == version.name and version.created_by == admin
    assert set(GoldSetMembership.objects.filter(version=version).values_list("report_id", flat=True)) == {reports[0].id, reports[1].id}
    # Gold like any other: a split, and out of the review queue.
    reports[0].refresh_from_db()
    assert reports[0].gold_split in ("train", "validation")
    assert not ReportPriority.objects.get(report=reports[0]).is_open
    assert "2 new, 0 replaced, 0 unchanged; gold-set version import-" in result.message


def test_gold_import_is_idempotent(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R2," + _cells(edema="1")])
    assert label_file_import(path=str(path), kind="gold", user=None).created == 2
    again = label_file_import(path=str(path), kind="gold", user=None)
    assert again.ok and not again.changed and again.unchanged == 2 and again.created == 0
    assert "nothing changed: all 2 unchanged" in again.message
    assert GoldLabel.objects.count() == 2 and LabelImport.objects.count() == 1 and GoldSetVersion.objects.count() == 1
    # A file that agrees with gold written another way is unchanged too.
    GoldLabelFactory(report=reports[2], labels=labels(cardiomegaly="positive"), method="agreement")
    same = _file(tmp_path, ["R3," + _cells(cardiomegaly="1.0")], "same.csv")
    assert label_file_import(path=str(same), kind="gold", user=None).unchanged == 1
    assert GoldLabel.objects.get(report=reports[2]).method == "agreement"


def test_differing_current_gold_is_an_error_unless_replace(tmp_path, reports, admin) -> None:  # type: ignore[no-untyped-def]
    old = GoldLabelFactory(report=reports[0], labels=labels(edema="positive"), method="adjudicated")
    path = _file(tmp_path, ["R2," + _cells(no_finding="1"), "R1," + _cells(edema="-1")])
    refused = label_file_import(path=str(path), kind="gold", user=admin)
    assert not refused.ok
    (error,) = refused.errors
    assert (error.line, error.column) == (3, "id")
    assert "current gold differs (Edema: positive -> uncertain)" in error.message and "replace" in error.message
    assert GoldLabel.objects.count() == 1 and not LabelImport.objects.exists()  # nothing written, not even R2
    replaced = label_file_import(path=str(path), kind="gold", user=admin, replace=True)
    assert (replaced.created, replaced.replaced) == (1, 1)
    old.refresh_from_db()
    new = GoldLabel.objects.get(report=reports[0], is_current=True)
    assert not old.is_current and new.supersedes == old and new.method == "imported"
    assert new.labels["Edema"] == "uncertain" and LabelImport.objects.get().replace


def test_reports_are_matched_by_exact_text(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    ReportFactory(external_id="dup1", text="Same text.")
    ReportFactory(external_id="dup2", text="Same text.")
    text = reports[1].text.replace('"', '""')
    path = _file(tmp_path, [f'"{text}",' + _cells(edema="1"), "Same text.," + _cells(edema="1"),
                            "No such report.," + _cells(edema="1")], header=f"Reports,{HEADER}")
    result = label_file_import(path=str(path), kind="gold", user=None)
    assert [(e.line, e.column, e.message) for e in result.errors] == [
        (4, "Reports", "2 stored reports have exactly this text: give an id column"),
        (5, "Reports", "no stored report has exactly this text"),
    ]
    ok = _file(tmp_path, [f'"{text}",' + _cells(edema="1")], "ok.csv", header=f"Reports,{HEADER}")
    assert label_file_import(path=str(ok), kind="gold", user=None).created == 1
    assert GoldLabel.objects.get().report == reports[1]


def test_every_bad_row_is_reported_and_nothing_is_written(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R9," + _cells(edema="1"), "R2," + _cells(edema="maybe"),
                            "R3,1,0"], header=f"id,{HEADER},Path")
    result = label_file_import(path=str(path), kind="gold", user=None)
    assert [(e.line, e.column) for e in result.errors] == [(1, "Path")]  # an unknown column: the rows are not read
    path = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R9," + _cells(edema="1"), "R2," + _cells(edema="maybe"), "R3,1,0"])
    result = label_file_import(path=str(path), kind="gold", user=None)
    assert [(e.line, e.column) for e in result.errors] == [(3, "id"), (4, "Edema"), (5, None)]
    assert "no report with id 'R9' (import the reports first)" in result.errors[0].message
    assert not GoldLabel.objects.exists() and not LabelImport.objects.exists() and not GoldSetVersion.objects.exists()
    assert "nothing was imported: 3 problem(s)" in result.message


def test_the_same_report_twice_by_id_and_by_text(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"id": "R1", "labels": {"Edema": 1}}) + "\n"
                    + json.dumps({"text": reports[0].text, "labels": {"Edema": 0}}) + "\n", encoding="utf-8")
    result = label_file_import(path=str(path), kind="gold", user=None)
    assert [(e.line, e.message) for e in result.errors] == [(2, "the same report as line 1")]


def test_positive_only_reference_with_zero_means_blank(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    # Open-i's labels.csv convention: 1 = coded present, 0 = not coded.
    path = _file(tmp_path, ["R1," + ",".join(["1"] + ["0"] * 13), "R2," + ",".join(["0", "0", "1"] + ["0"] * 11)])
    hint = label_file_import(path=str(path), kind="gold", user=None, zero_means="blank")
    assert hint.ok and hint.notes == []
    assert GoldLabel.objects.get(report=reports[0]).labels == labels(no_finding="positive")
    assert GoldLabel.objects.get(report=reports[1]).labels == labels(cardiomegaly="positive")
    assert LabelImport.objects.get().zero_means == "blank"


def test_a_zero_one_file_read_as_negative_gets_a_note(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + ",".join(["1"] + ["0"] * 13)])
    result = label_file_import(path=str(path), kind="gold", user=None)
    assert GoldLabel.objects.get().labels["Edema"] == "negative"
    assert any("zero_means blank" in n for n in result.notes)


def test_the_gold_exports_import_back_unchanged(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    GoldLabelFactory(report=reports[0], labels=labels(edema="uncertain", no_finding="blank", fracture="negative"))
    GoldLabelFactory(report=reports[1], labels=labels(no_finding="positive"), method="adjudicated")
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"gold.{fmt}"
        call_command("export_gold", "--output", str(out), "--format", fmt)
        result = label_file_import(path=str(out), kind="gold", user=None)
        assert result.ok and (result.unchanged, result.created) == (2, 0), (fmt, result.errors)
    assert GoldLabel.objects.count() == 2 and not LabelImport.objects.exists()


def test_gold_download_page_takes_the_policy(client, reports, admin) -> None:  # type: ignore[no-untyped-def]
    GoldLabelFactory(report=reports[0], labels=labels(edema="uncertain"))
    client.force_login(admin)
    body = b"".join(client.get(reverse("labeling:gold_export"), {"uncertain": "u-ones"}).streaming_content).decode()
    header, row = body.splitlines()[0].split(","), body.splitlines()[-1].split(",")
    assert row[header.index("Edema")] == "1.0"
    assert client.get(reverse("labeling:gold_export"), {"uncertain": "Edema=often"}).status_code == 400


# --- reads --------------------------------------------------------------------------------
def test_reads_create_a_reader_account_without_a_usable_password(tmp_path, reports, settings_row) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(no_finding="1")])
    result = label_file_import(path=str(path), kind="reads", user=None, reader="dr_prior")
    assert result.ok and result.reader_created and result.created == 1
    user = get_user_model().objects.get(username="dr_prior")
    assert not user.has_usable_password() and user_roles(user=user) == frozenset({Role.READER})
    annotation = Annotation.objects.get(reader=user)
    assert annotation.status == Annotation.Status.SUBMITTED and annotation.submitted_at is not None
    assert annotation.labels == labels(no_finding="positive") and annotation.label_import == LabelImport.objects.get()
    again = label_file_import(path=str(path), kind="reads", user=None, reader="dr_prior")
    assert not again.changed and again.unchanged == 1 and not again.reader_created and Annotation.objects.count() == 1


def test_imported_reads_count_towards_k_and_agreeing_reads_become_gold(tmp_path, reports, make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    live = make_user("live", "reader")
    first = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R2," + _cells(edema="1")], "a.csv")
    label_file_import(path=str(first), kind="reads", user=None, reader="prior_a")
    # k = 2: each report has one read; a live reader can still get them.
    assert selectors.report_read_load(report_id=reports[0].id, now=Annotation.objects.first().submitted_at) == 1  # type: ignore[union-attr]
    second = _file(tmp_path, ["R1," + _cells(no_finding="1.0"), "R2," + _cells(edema="-1")], "b.csv")
    result = label_file_import(path=str(second), kind="reads", user=None, reader="prior_b")
    # R1: the two reads agree -> gold by agreement, with both reads; R2: they differ -> adjudication.
    assert (result.became_gold, result.awaiting_adjudication) == (1, 1)
    gold = GoldLabel.objects.get(report=reports[0])
    assert gold.method == GoldLabel.Method.AGREEMENT
    assert {a.reader.username for a in gold.annotations.all()} == {"prior_a", "prior_b"}
    assert list(selectors.reports_awaiting_adjudication().values_list("external_id", flat=True)) == ["R2"]
    # Both reports have k reads: only R3 is left for the live reader.
    assigned = next_report_assign(reader=live)
    assert assigned is not None and assigned.external_id == "R3"
    assert next_report_assign(reader=live) == assigned  # still holding it; nothing else to hand out


def test_reads_go_to_adjudication_when_auto_gold_is_off(tmp_path, reports, settings_row) -> None:  # type: ignore[no-untyped-def]
    settings_row.auto_gold = False
    settings_row.save()
    for reader in ("prior_a", "prior_b"):
        label_file_import(path=str(_file(tmp_path, ["R1," + _cells(no_finding="1")], f"{reader}.csv")), kind="reads", user=None, reader=reader)
    assert not GoldLabel.objects.exists()
    assert list(selectors.reports_awaiting_adjudication().values_list("external_id", flat=True)) == ["R1"]


def test_reads_never_overwrite_a_read(tmp_path, reports, make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    reader = make_user("dr_x", "reader")
    AnnotationFactory(report=reports[0], reader=reader, labels=labels(edema="positive"), status="submitted")
    AnnotationFactory(report=reports[1], reader=reader, labels={"Edema": "positive"})  # a draft
    path = _file(tmp_path, ["R1," + _cells(edema="0"), "R2," + _cells(edema="1"), "R3," + _cells(edema="1")])
    result = label_file_import(path=str(path), kind="reads", user=None, reader="dr_x")
    assert [(e.line, e.column) for e in result.errors] == [(2, "id"), (3, "id")]
    assert "dr_x already submitted other labels for this report (Edema: positive -> negative)" in result.errors[0].message
    assert "draft read" in result.errors[1].message
    assert Annotation.objects.count() == 2
    with pytest.raises(LabelImportInvalid, match="replace applies to gold only"):
        label_file_import(path=str(path), kind="reads", user=None, reader="dr_x", replace=True)


def test_reader_names_that_are_refused(tmp_path, reports, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("boss2", "admin")
    path = _file(tmp_path, ["R1," + _cells(edema="1")])
    with pytest.raises(AccountNotReader, match="is not a reader"):
        label_file_import(path=str(path), kind="reads", user=None, reader="boss2")
    with pytest.raises(AccountNameInvalid):
        label_file_import(path=str(path), kind="reads", user=None, reader="dr x/y")
    with pytest.raises(LabelImportInvalid, match="give the reader's username"):
        label_file_import(path=str(path), kind="reads", user=None)
    assert not Annotation.objects.exists() and not get_user_model().objects.filter(username="dr x/y").exists()


def test_a_bad_file_creates_no_reader_account(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(edema="1"), "R9," + _cells(edema="1")])
    assert not label_file_import(path=str(path), kind="reads", user=None, reader="newbie").ok
    assert not get_user_model().objects.filter(username="newbie").exists()


# --- predictions --------------------------------------------------------------------------
def test_external_predictions_are_scored_beside_ours(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    for report, value in zip(reports[:2], ("positive", "negative"), strict=True):
        GoldLabelFactory(report=report, labels=labels(edema=value))
    path = _file(tmp_path, ["R1," + _cells(edema="1"), "R2," + _cells(edema="1"), "R3," + _cells(edema="-1")])
    result = label_file_import(path=str(path), kind="predictions", user=None, labeler="CheXpert labeler")
    assert result.ok and result.created == 3
    rows = MachinePrediction.objects.filter(source="external", source_version="CheXpert labeler")
    assert rows.count() == 3 and all(p.model_version is None and p.label_import is not None for p in rows)
    statistics_cache_clear()
    stats = statistics_get(n_resamples=50)
    (external,) = [lab for lab in stats["labelers"] if lab["kind"] == "external"]
    assert external["name"] == "External labeler CheXpert labeler" and external["n"] == 2
    # Same file again: unchanged; other labels under the same name: refused.
    assert label_file_import(path=str(path), kind="predictions", user=None, labeler="CheXpert labeler").unchanged == 3
    other = _file(tmp_path, ["R1," + _cells(edema="0")], "other.csv")
    refused = label_file_import(path=str(other), kind="predictions", user=None, labeler="CheXpert labeler")
    assert "import under a new name" in refused.errors[0].message
    with pytest.raises(LabelImportInvalid, match="labeler's name"):
        label_file_import(path=str(other), kind="predictions", user=None)
    with pytest.raises(LabelImportInvalid, match="reads need a reader"):
        label_file_import(path=str(other), kind="reads", user=None, reader="x", labeler="y")


# --- the command --------------------------------------------------------------------------
def test_command_modes_and_output(tmp_path, reports, settings_row, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(no_finding="1")])
    call_command("import_labels", str(path), "--as", "gold")
    out = capsys.readouterr().out
    assert "gold labels from labels.csv: 1 row(s) read; 1 new, 0 replaced, 0 unchanged; gold-set version import-" in out
    call_command("import_labels", str(path), "--as", "gold")
    assert "nothing changed: all 1 unchanged" in capsys.readouterr().out
    call_command("import_labels", str(path), "--as", "reads", "--reader", "cmd_reader")
    assert "created reader account cmd_reader (no password)" in capsys.readouterr().out
    call_command("import_labels", str(path), "--as", "predictions", "--labeler", "theirs", "--zero-means", "blank")
    assert "predictions of theirs" in capsys.readouterr().out
    assert LabelImport.objects.get(kind="predictions").created_by is None


def test_command_errors_name_lines_and_write_nothing(tmp_path, reports) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, ["R1," + _cells(no_finding="1"), "R7," + _cells(edema="1"), "R2," + _cells(edema="x")])
    with pytest.raises(CommandError) as caught:
        call_command("import_labels", str(path), "--as", "gold")
    message = str(caught.value)
    assert "nothing was imported" in message and "line 3, column 'id': no report with id 'R7'" in message
    assert "line 4, column 'Edema'" in message
    assert not GoldLabel.objects.exists()
    with pytest.raises(CommandError, match="replace applies to gold only"):
        call_command("import_labels", str(path), "--as", "predictions", "--labeler", "x", "--replace")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_labels", str(tmp_path / "missing.csv"), "--as", "gold")


# --- the Imports page ---------------------------------------------------------------------
def _post(client, content: bytes, name: str = "labels.csv", **fields: str):  # type: ignore[no-untyped-def]
    data = {"labels-file": SimpleUploadedFile(name, content, content_type="text/csv"), "labels-kind": "gold",
            "labels-zero_means": "negative", **{f"labels-{k}": v for k, v in fields.items()}}
    return client.post(reverse("annotator:label_import"), data, follow=True)


def test_page_shows_the_label_form_and_imports_each_kind(client, tmp_path, reports, admin, settings_row) -> None:  # type: ignore[no-untyped-def]
    client.force_login(admin)
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert "Import prior labels" in page and 'name="labels-file"' in page and 'name="file"' in page
    content = f"id,{HEADER}\nR1,{_cells(no_finding='1')}\n".encode()
    response = _post(client, content)
    assert response.redirect_chain[-1][0] == reverse("labeling:import_list")
    html = response.content.decode()
    assert "1 new, 0 replaced, 0 unchanged" in html and "Recent label imports" in html and "import-" in html
    assert GoldLabel.objects.get().label_import.created_by == admin  # type: ignore[union-attr]
    _post(client, content, kind="reads", reader="page_reader", labeler="ignored")
    assert Annotation.objects.get().reader.username == "page_reader"
    _post(client, content, kind="predictions", labeler="page_labeler", reader="ignored")
    assert MachinePrediction.objects.get(source="external").source_version == "page_labeler"


def test_page_lists_bad_rows_and_writes_nothing(client, tmp_path, reports, admin) -> None:  # type: ignore[no-untyped-def]
    client.force_login(admin)
    response = _post(client, f"id,{HEADER}\nR1,{_cells(edema='2')}\nR8,{_cells()}\n".encode())
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported" in html
    assert "line 2, column &#x27;Edema&#x27;" in html and "no report with id &#x27;R8&#x27;" in html
    assert not GoldLabel.objects.exists()
    missing_reader = _post(client, b"id\n", kind="reads").content.decode()
    assert "give the reader&#x27;s username" in missing_reader


def test_page_is_for_admins_only(client, make_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("r1", "reader"))
    assert client.post(reverse("annotator:label_import"), {}).status_code == 403
    client.force_login(make_user("a1", "admin"))
    assert client.get(reverse("annotator:label_import")).status_code == 405
