"""Exports: exact CheXpert CSV bytes, JSONL provenance, machine labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import GoldSetMembership, GoldSetVersion
from tests.factories import GoldLabelFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, UserFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

HEADER = (
    "Reports,id,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Lesion,Lung Opacity,Edema,"
    "Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices\n"
)


@pytest.fixture
def two_gold_reports() -> list:
    a = ReportFactory(external_id="A", text="Heart size normal, lungs clear.")
    b = ReportFactory(external_id="B", text='Left "pleural" effusion,\npossible edema.')
    return [
        GoldLabelFactory(report=a, labels=labels(no_finding="positive", cardiomegaly="negative")),
        GoldLabelFactory(
            report=b, labels=labels(pleural_effusion="positive", edema="uncertain", support_devices="negative"),
            method="adjudicated", adjudicator=UserFactory(username="dr_adj"), rationale="Edema equivocal.",
        ),
    ]


def test_gold_csv_is_exact_chexpert_convention(tmp_path: Path, two_gold_reports: list) -> None:
    out = tmp_path / "gold.csv"
    call_command("export_gold", "--output", str(out))
    assert out.read_bytes().decode() == (
        HEADER
        + "\"Heart size normal, lungs clear.\",A,1.0,,0.0,,,,,,,,,,,\n"
        + "\"Left \"\"pleural\"\" effusion,\npossible edema.\",B,,,,,,-1.0,,,,,1.0,,,0.0\n"
    )


def test_gold_jsonl_carries_provenance(tmp_path: Path, two_gold_reports: list) -> None:
    out = tmp_path / "gold.jsonl"
    call_command("export_gold", "--output", str(out), "--format", "jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["A", "B"]
    assert rows[1]["labels"]["Edema"] == -1.0 and rows[1]["labels"]["Fracture"] is None
    assert rows[1]["provenance"]["method"] == "adjudicated"
    assert rows[1]["provenance"]["adjudicator"] == "dr_adj"
    assert rows[1]["provenance"]["rationale"] == "Edema equivocal."


def test_gold_export_by_frozen_version_ignores_later_corrections(tmp_path: Path, two_gold_reports: list) -> None:
    version = GoldSetVersion.objects.create(name="2026-q4")
    for gold in two_gold_reports:
        GoldSetMembership.objects.create(version=version, report=gold.report, gold_label=gold)
    old = two_gold_reports[0]
    old.is_current = False
    old.save()
    GoldLabelFactory(report=old.report, labels=labels(cardiomegaly="positive"), supersedes=old)
    frozen, current = tmp_path / "frozen.csv", tmp_path / "current.csv"
    call_command("export_gold", "--output", str(frozen), "--gold-version", "2026-q4")
    call_command("export_gold", "--output", str(current))
    assert ",A,1.0,,0.0," in frozen.read_text()
    assert ",A,,,1.0," in current.read_text()


def test_unknown_gold_version_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no gold-set version named 'nope'"):
        call_command("export_gold", "--output", str(tmp_path / "x.csv"), "--gold-version", "nope")
    assert not (tmp_path / "x.csv").exists()


def test_export_predictions_rules_and_model(tmp_path: Path) -> None:
    from labeling.rules import RULES_VERSION

    report = ReportFactory(external_id="R1", text="Small effusion.")
    RulePredictionFactory(report=report, source_version=RULES_VERSION, labels=labels(pleural_effusion="positive"))
    version = ModelVersionFactory(name="v7", is_active=True)
    RulePredictionFactory(
        report=report, source="model", source_version="v7", model_version=version, labels=labels(pleural_effusion="uncertain")
    )
    rules_out, model_out = tmp_path / "rules.csv", tmp_path / "model.csv"
    call_command("export_predictions", "--source", "rules", "--output", str(rules_out))
    call_command("export_predictions", "--source", "model:v7", "--output", str(model_out))
    assert rules_out.read_text() == HEADER + "Small effusion.,R1,,,,,,,,,,,1.0,,,\n"
    assert model_out.read_text() == HEADER + "Small effusion.,R1,,,,,,,,,,,-1.0,,,\n"
    with pytest.raises(CommandError, match="no model version 'v9'"):
        call_command("export_predictions", "--source", "model:v9", "--output", str(tmp_path / "x.csv"))
