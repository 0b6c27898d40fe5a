"""`manage.py label_reports`: importer input conventions in, CheXpert labeler format out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.observations import CHEXBERT_ORDER, OBSERVATION_NAMES

CHEXPERT_HEADER = "Reports,id," + ",".join(OBSERVATION_NAMES)


def test_rules_from_chexbert_style_input_without_a_database(tmp_path: Path, django_db_blocker) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.csv"
    src.write_text('study_id,Report Impression\ns1,"Large left pleural effusion. No pneumothorax."\n')
    out, evidence = tmp_path / "out.csv", tmp_path / "ev.jsonl"
    with django_db_blocker.block():  # the rules path must not touch the database
        call_command("label_reports", "--input", str(src), "--output", str(out), "--evidence", str(evidence))
    lines = out.read_text().splitlines()
    assert lines[0] == CHEXPERT_HEADER
    values = dict(zip(OBSERVATION_NAMES, lines[1].split(",")[2:], strict=True))
    assert lines[1].startswith("Large left pleural effusion. No pneumothorax.,s1,")
    assert values["Pleural Effusion"] == "1.0" and values["Pneumothorax"] == "0.0"
    record = json.loads(evidence.read_text())
    span = record["evidence"]["Pleural Effusion"][0]
    assert "Large left pleural effusion. No pneumothorax."[span["start"] : span["end"]].lower().endswith("effusion")


def test_headerless_input_has_no_id_column_and_chexbert_order(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("Mild cardiomegaly.\n")
    out = tmp_path / "out.csv"
    call_command("label_reports", "--input", str(src), "--output", str(out), "--column-order", "chexbert")
    header, row = out.read_text().splitlines()
    assert header == "Report Impression," + ",".join(o.value for o in CHEXBERT_ORDER)
    assert row.split(",")[2] == "1.0"  # Cardiomegaly is CheXbert's second observation


def test_section_option_reads_only_the_impression(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,Reports\n1,"FINDINGS: Small right effusion.\nIMPRESSION: No pneumothorax."\n')
    out = tmp_path / "out.csv"
    call_command("label_reports", "--input", str(src), "--output", str(out), "--section", "impression")
    values = dict(zip(OBSERVATION_NAMES, out.read_text().splitlines()[-1].rsplit(",", 14)[1:], strict=True))
    assert values["Pleural Effusion"] == "" and values["Pneumothorax"] == "0.0"


def test_bad_input_is_reported_by_line_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,Reports\n1,ok\n2,\n")
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="line 3"):
        call_command("label_reports", "--input", str(src), "--output", str(out))
    assert not out.exists()


@pytest.mark.django_db
def test_model_labeler_without_an_active_version_says_so(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,Reports\n1,ok\n")
    with pytest.raises(CommandError, match="no active model version"):
        call_command("label_reports", "--labeler", "model", "--input", str(src), "--output", str(tmp_path / "o.csv"))
