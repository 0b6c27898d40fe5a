"""Exports with an uncertainty policy: export_gold, export_predictions (also an
external labeler's), label_reports. Only uncertain values change; blank stays blank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import LabelImport
from labeling.observations import OBSERVATION_NAMES
from tests.factories import GoldLabelFactory, ReportFactory, RulePredictionFactory, UserFactory, labels

HEADER = "Reports,id," + ",".join(OBSERVATION_NAMES)


def _values(line: str) -> dict[str, str]:
    return dict(zip(OBSERVATION_NAMES, line.split(",")[2:], strict=True))


@pytest.fixture
def gold(db) -> None:  # type: ignore[no-untyped-def]
    GoldLabelFactory(report=ReportFactory(external_id="A", text="Possible atelectasis."),
                     labels=labels(atelectasis="uncertain", edema="uncertain", pneumonia="positive", fracture="negative"))


@pytest.mark.django_db
@pytest.mark.parametrize(("policy", "atelectasis", "edema"), [
    (None, "-1.0", "-1.0"), ("as-is", "-1.0", "-1.0"), ("positive", "1.0", "1.0"), ("u-zeros", "0.0", "0.0"),
    ("hedged-absent", "", ""), ("Atelectasis=positive,Edema=negative", "1.0", "0.0"), ("negative,Atelectasis=as-is", "-1.0", "0.0"),
])
def test_export_gold_with_a_policy(tmp_path: Path, gold: None, policy: str | None, atelectasis: str, edema: str) -> None:
    out = tmp_path / "gold.csv"
    call_command("export_gold", "--output", str(out), *(["--uncertain", policy] if policy else []))
    header, line = out.read_text().splitlines()
    values = _values(line)
    assert header == HEADER and (values["Atelectasis"], values["Edema"]) == (atelectasis, edema)
    # Other values never change; blank stays blank.
    assert (values["Pneumonia"], values["Fracture"], values["Cardiomegaly"]) == ("1.0", "0.0", "")


@pytest.mark.django_db
def test_export_gold_jsonl_records_the_policy_and_the_import(tmp_path: Path) -> None:
    record = LabelImport.objects.create(filename="prior.csv", kind="gold", created_by=UserFactory(username="boss"))
    GoldLabelFactory(report=ReportFactory(external_id="B"), labels=labels(edema="uncertain"), method="imported", label_import=record)
    out = tmp_path / "gold.jsonl"
    call_command("export_gold", "--output", str(out), "--uncertain", "Edema=positive")
    row = json.loads(out.read_text())
    assert row["labels"]["Edema"] == 1.0 and row["provenance"]["uncertainty_policy"] == "Edema=positive"
    assert row["provenance"]["method"] == "imported"
    imported = row["provenance"]["import"]
    assert (imported["filename"], imported["by"], imported["label_import_id"], imported["zero_means"]) == (
        "prior.csv", "boss", record.id, "negative")


@pytest.mark.django_db
def test_bad_policy_is_a_clear_error_and_writes_nothing(tmp_path: Path, gold: None) -> None:
    with pytest.raises(CommandError, match="uncertain: unknown observation 'Edemaa'"):
        call_command("export_gold", "--output", str(tmp_path / "x.csv"), "--uncertain", "Edemaa=positive")
    with pytest.raises(CommandError, match="'sometimes' is not a policy value"):
        call_command("export_predictions", "--source", "rules", "--output", str(tmp_path / "y.csv"), "--uncertain", "sometimes")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()


@pytest.mark.django_db
def test_export_predictions_with_a_policy_and_an_external_labeler(tmp_path: Path) -> None:
    from labeling.rules import RULES_VERSION

    report = ReportFactory(external_id="R1", text="Maybe effusion.")
    RulePredictionFactory(report=report, source_version=RULES_VERSION, labels=labels(pleural_effusion="uncertain"))
    RulePredictionFactory(report=report, source="external", source_version="theirs", labels=labels(edema="uncertain", fracture="positive"))
    out = tmp_path / "rules.csv"
    call_command("export_predictions", "--source", "rules", "--output", str(out), "--uncertain", "u-ones")
    assert _values(out.read_text().splitlines()[1])["Pleural Effusion"] == "1.0"
    ext = tmp_path / "ext.csv"
    call_command("export_predictions", "--source", "external:theirs", "--output", str(ext), "--uncertain", "hedged-absent")
    values = _values(ext.read_text().splitlines()[1])
    assert (values["Edema"], values["Fracture"]) == ("", "1.0")
    with pytest.raises(CommandError, match="no predictions of an external labeler named 'nobody'"):
        call_command("export_predictions", "--source", "external:nobody", "--output", str(tmp_path / "z.csv"))


def test_label_reports_with_a_policy(tmp_path: Path, django_db_blocker) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.csv"
    src.write_text("id,Reports\ns1,Possible left lower lobe atelectasis. No pneumothorax.\n")
    plain, ones, hedged = tmp_path / "plain.csv", tmp_path / "ones.csv", tmp_path / "hedged.csv"
    with django_db_blocker.block():  # the rules path still needs no database
        call_command("label_reports", "--input", str(src), "--output", str(plain))
        call_command("label_reports", "--input", str(src), "--output", str(ones), "--uncertain", "positive")
        call_command("label_reports", "--input", str(src), "--output", str(hedged), "--uncertain", "hedged-absent")
        with pytest.raises(CommandError, match="--uncertain: "):
            call_command("label_reports", "--input", str(src), "--output", str(tmp_path / "bad.csv"), "--uncertain", "yes")
    base = _values(plain.read_text().splitlines()[1])
    assert base["Atelectasis"] == "-1.0" and base["Pneumothorax"] == "0.0"
    assert _values(ones.read_text().splitlines()[1]) == {**base, "Atelectasis": "1.0"}
    assert _values(hedged.read_text().splitlines()[1]) == {**base, "Atelectasis": ""}
