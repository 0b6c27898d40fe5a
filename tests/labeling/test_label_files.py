"""Reading prior label files (labeling.label_files): conventions, and every bad
row reported with its line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling.label_files import KEY_ID, KEY_TEXT, label_cell_parse, label_file_read
from labeling.observations import OBSERVATION_NAMES, LabelValue

HEADER = ",".join(OBSERVATION_NAMES)


def _csv(tmp_path: Path, lines: list[str], name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cells(**values: str) -> str:
    """The 14 observation cells, empty except the given ones."""
    cells = {n: "" for n in OBSERVATION_NAMES}
    for key, value in values.items():
        cells[next(n for n in OBSERVATION_NAMES if n.lower() == key.replace("_", " ").lower())] = value
    return ",".join(cells[n] for n in OBSERVATION_NAMES)


def _errors(parsed) -> list[tuple[int, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(e.line, e.column, e.message) for e in parsed.errors]


@pytest.mark.parametrize("id_column", ["id", "study_id", "uid", "accession"])
def test_csv_by_id_with_every_cell_spelling(tmp_path: Path, id_column: str) -> None:
    path = _csv(tmp_path, [f"{id_column},{HEADER}",
                           "A," + _cells(no_finding="1.0", edema="0.0", atelectasis="-1.0"),
                           "B," + _cells(cardiomegaly="1", edema="0", atelectasis="-1", fracture=" ")])
    parsed = label_file_read(path)
    assert parsed.errors == []
    a, b = parsed.rows
    assert (a.key_kind, a.key, a.line, a.key_column) == (KEY_ID, "A", 2, id_column)
    assert (a.labels["No Finding"], a.labels["Edema"], a.labels["Atelectasis"], a.labels["Fracture"]) == (
        "positive", "negative", "uncertain", "blank")
    assert (b.labels["Cardiomegaly"], b.labels["Edema"], b.labels["Atelectasis"], b.labels["Fracture"]) == (
        "positive", "negative", "uncertain", "blank")
    assert set(a.labels) == set(OBSERVATION_NAMES)


def test_csv_by_report_text_keeps_the_exact_text_and_counts_physical_lines(tmp_path: Path) -> None:
    path = _csv(tmp_path, [f"Reports,{HEADER}", '"FINDINGS: Heart normal.\nIMPRESSION: Normal.",' + _cells(no_finding="1"),
                           "Small effusion.," + _cells(pleural_effusion="1"), "Bad.," + _cells(edema="2")])
    parsed = label_file_read(path)
    assert [(r.key_kind, r.key, r.line) for r in parsed.rows] == [
        (KEY_TEXT, "FINDINGS: Heart normal.\nIMPRESSION: Normal.", 2), (KEY_TEXT, "Small effusion.", 4)]
    assert _errors(parsed) == [(5, "Edema", "not a CheXpert label: '2' (expected 1, 0, -1 or empty)")]


def test_id_wins_over_text_and_mimic_columns_are_allowed(tmp_path: Path) -> None:
    path = _csv(tmp_path, [f"subject_id,study_id,Reports,{HEADER}", "p1,S1,Some text.," + _cells(edema="1")])
    parsed = label_file_read(path)
    assert parsed.errors == [] and parsed.rows[0].key == "S1" and parsed.rows[0].key_kind == KEY_ID


def test_header_problems_are_each_named_by_column(tmp_path: Path) -> None:
    cols = [n for n in OBSERVATION_NAMES if n != "Edema"]
    path = _csv(tmp_path, ["id,Path,Sex," + ",".join(cols) + ",Fracture", "A"])
    errors = _errors(label_file_read(path))
    assert (1, "Path", "unknown column (expected a report id or text column and the 14 CheXpert observations)") in errors
    assert (1, "Sex", "unknown column (expected a report id or text column and the 14 CheXpert observations)") in errors
    assert (1, "Edema", "missing observation column") in errors
    assert (1, "Fracture", "repeated column") in errors
    assert all(line == 1 for line, _, _ in errors)


def test_no_key_column(tmp_path: Path) -> None:
    errors = _errors(label_file_read(_csv(tmp_path, [HEADER, _cells(edema="1")])))
    assert errors[0][0] == 1 and "no report id column" in errors[0][2]


def test_row_problems_by_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, [f"id,{HEADER}", "A," + _cells(edema="yes", fracture="0.5"), "," + _cells(), "C,1,0",
                           "D," + _cells(edema="1"), "D," + _cells(edema="0"), "E," + _cells(edema="1"), "E," + _cells(edema="1.0")])
    parsed = label_file_read(path)
    assert _errors(parsed) == [
        (2, "Edema", "not a CheXpert label: 'yes' (expected 1, 0, -1 or empty)"),
        (2, "Fracture", "not a CheXpert label: '0.5' (expected 1, 0, -1 or empty)"),
        (3, "id", "missing id"),
        (4, None, "wrong number of fields: 3, the header has 15"),
        (6, "id", "id 'D' again with other labels (first at line 5)"),
    ]
    assert [r.key for r in parsed.rows] == ["D", "E"]  # E repeated with the same labels: read once


def test_not_utf8_and_empty_files(tmp_path: Path) -> None:
    bad = tmp_path / "latin.csv"
    bad.write_bytes(f"id,{HEADER}\n".encode() + b"caf\xe9," + _cells(edema="1").encode() + b"\n")
    assert any(e.line == 2 and "not UTF-8" in e.message for e in label_file_read(bad).errors)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert _errors(label_file_read(empty)) == [(0, None, "the file is empty")]
    header_only = _csv(tmp_path, [f"id,{HEADER}"], "header.csv")
    assert _errors(label_file_read(header_only)) == [(0, None, "the file holds no labels")]


def test_zero_means_blank_for_positive_only_references(tmp_path: Path) -> None:
    path = _csv(tmp_path, [f"id,{HEADER}", "1," + ",".join(["1"] + ["0"] * 13), "2," + ",".join(["0", "0", "1"] + ["0"] * 11)])
    as_negative = label_file_read(path)
    assert as_negative.looks_positive_only
    assert as_negative.rows[0].labels["Edema"] == "negative"
    as_blank = label_file_read(path, zero_means="blank")
    assert as_blank.rows[0].labels == {n: ("positive" if n == "No Finding" else "blank") for n in OBSERVATION_NAMES}
    assert as_blank.rows[1].labels["Cardiomegaly"] == "positive" and as_blank.rows[1].labels["No Finding"] == "blank"
    with_uncertain = _csv(tmp_path, [f"id,{HEADER}", "1," + _cells(edema="-1", fracture="0")], "u.csv")
    assert not label_file_read(with_uncertain).looks_positive_only
    assert label_file_read(with_uncertain, zero_means="blank").rows[0].labels["Edema"] == "uncertain"
    with pytest.raises(ValueError):
        label_file_read(path, zero_means="absent")


def test_jsonl_nested_flat_and_our_own_export(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    rows = [
        {"id": "A", "labels": {"Edema": 1, "Atelectasis": -1.0, "Fracture": None, "Cardiomegaly": "0"}},
        {"study_id": 7, "Pleural Effusion": "positive", "No Finding": "blank"},
        {"text": "Lungs clear.", "labels": {"No Finding": 1}},
        # The gold JSONL export reads back as is.
        {"id": "B", "text": "x", "labels": {"Edema": 0.0}, "provenance": {"method": "adjudicated"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    parsed = label_file_read(path)
    assert parsed.errors == []
    a, b, c, d = parsed.rows
    assert (a.labels["Edema"], a.labels["Atelectasis"], a.labels["Fracture"], a.labels["Cardiomegaly"], a.labels["Lung Lesion"]) == (
        "positive", "uncertain", "blank", "negative", "blank")
    assert (b.key, b.key_column, b.labels["Pleural Effusion"]) == ("7", "study_id", "positive")
    assert (c.key_kind, c.key, c.labels["No Finding"]) == (KEY_TEXT, "Lungs clear.", "positive")
    assert (d.key, d.labels["Edema"]) == ("B", "negative")


def test_jsonl_problems_by_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join([
        '{"id": "A", "labels": {"Edema": 2}}',
        "{not json}",
        "[1, 2]",
        '{"labels": {"Edema": 1}}',
        '{"id": "B", "labels": {"Oedema": 1}}',
        '{"id": "C", "labels": {"Edema": 1}, "score": 3}',
        '{"id": "D", "labels": [1]}',
        '{"id": "E"}',
        '{"id": "F", "labels": {"Edema": true}}',
        '{"id": {"x": 1}, "labels": {"Edema": 1}}',
    ]) + "\n", encoding="utf-8")
    errors = _errors(label_file_read(path))
    assert errors[0] == (1, "Edema", "not a CheXpert label: 2 (expected 1, 0, -1 or empty)")
    assert errors[1][0] == 2 and errors[1][2].startswith("not valid JSON")
    assert errors[2] == (3, None, "not a JSON object")
    assert errors[3][0] == 4 and errors[3][2].startswith("no report id")
    assert errors[4] == (5, "Oedema", "unknown observation")
    assert errors[5] == (6, "score", "unknown key (expected id, labels and the 14 CheXpert observations)")
    assert errors[6] == (7, "labels", "labels is not an object")
    assert errors[7][0] == 8 and errors[7][2].startswith("no labels")
    assert errors[8] == (9, "Edema", "not a label: True (expected 1, 0, -1 or empty)")
    assert errors[9] == (10, "id", "id is not a string or number")


def test_cell_parse() -> None:
    assert label_cell_parse("uncertain") is LabelValue.UNCERTAIN
    assert label_cell_parse(-1) is LabelValue.UNCERTAIN and label_cell_parse(None) is LabelValue.BLANK
    with pytest.raises(ValueError):
        label_cell_parse(False)
