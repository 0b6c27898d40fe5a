"""`--workers N` for rule labelling: the stored predictions and the
`label_reports` output are the same with several processes as with one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import MachinePrediction, Report
from labeling.rules import label_report
from labeling.rules.pool import MIN_PARALLEL
from labeling.services.predictions import rule_predictions_create
from tests.labeling.test_rules_golden import DEMO_CSV, read_reports


def _texts(n: int) -> list[str]:
    demo = [t for _, t in read_reports(DEMO_CSV)]
    return [demo[i % len(demo)] + ("" if i < len(demo) else f"\nStudy {i}.") for i in range(n)]


@pytest.mark.both_backends
@pytest.mark.django_db
def test_rule_predictions_with_two_workers_match_one_process() -> None:
    from tests.factories import ReportFactory

    texts = _texts(MIN_PARALLEL + 150)
    reports = [ReportFactory(text=t) for t in texts]
    progress: list[tuple[int, int]] = []
    written = rule_predictions_create(report_ids=[r.id for r in reports], workers=2,
                                      progress=lambda d, t: progress.append((d, t)))
    assert written == len(reports)
    assert progress[0] == (0, len(reports)) and progress[-1] == (len(reports), len(reports))
    stored = {p.report_id: p for p in MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES)}
    for report in Report.objects.filter(id__in=[r.id for r in reports]):
        expected = label_report(report.text)
        assert stored[report.id].labels == expected.labels
        assert stored[report.id].evidence == expected.evidence_as_json()


def test_label_reports_command_output_is_the_same_with_two_workers(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Reports"])
        writer.writerows((f"r{i}", t) for i, t in enumerate(_texts(MIN_PARALLEL + 100)))
    outputs = []
    for workers in ("1", "2"):
        out, evidence = tmp_path / f"out{workers}.csv", tmp_path / f"ev{workers}.jsonl"
        call_command("label_reports", "--input", str(src), "--output", str(out), "--evidence", str(evidence),
                     "--workers", workers)
        outputs.append((out.read_bytes(), evidence.read_bytes()))
    assert outputs[0] == outputs[1]
    with pytest.raises(CommandError, match="--workers"):
        call_command("label_reports", "--input", str(src), "--output", str(tmp_path / "x.csv"), "--workers", "0")


@pytest.mark.django_db
def test_import_reports_workers_option(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Reports"])
        writer.writerows((f"r{i}", t) for i, t in enumerate(_texts(MIN_PARALLEL + 50)))
    with pytest.raises(CommandError, match="--workers"):
        call_command("import_reports", str(src), "--workers", "0")
    assert not Report.objects.exists()
    call_command("import_reports", str(src), "--workers", "2")
    stored = {p.report_id: p for p in MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES)}
    reports = list(Report.objects.all())
    assert len(stored) == len(reports) == MIN_PARALLEL + 50
    for report in reports:
        expected = label_report(report.text)
        assert (stored[report.id].labels, stored[report.id].evidence) == (expected.labels, expected.evidence_as_json())
