"""The committed demo reports: shape, determinism and coverage of what labelers must handle.

Pure Python (no Django): run with
    .venv/bin/python -m pytest -p no:django -q tests/test_demo_reports.py
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "demo" / "reports.csv"
GENERATOR = ROOT / "demo" / "generate_reports.py"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def corpus(rows: list[dict[str, str]]) -> str:
    return "\n\n".join(r["Reports"] for r in rows).lower()


def test_file_exists_with_expected_columns(rows: list[dict[str, str]]) -> None:
    assert CSV_PATH.is_file()
    assert list(rows[0].keys()) == ["id", "patient_id", "study_date", "Reports"]


def test_at_least_300_rows(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 300


def test_ids_unique_and_well_formed(rows: list[dict[str, str]]) -> None:
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"DEMO-\d{4}", i) for i in ids)


def test_every_row_has_text(rows: list[dict[str, str]]) -> None:
    assert all(r["Reports"].strip() for r in rows)


def test_patients_have_several_reports_in_date_order(rows: list[dict[str, str]]) -> None:
    by_patient: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        dt.date.fromisoformat(r["study_date"])  # valid ISO date
        by_patient[r["patient_id"]].append(r)
    assert 100 <= len(by_patient) < len(rows)
    assert sum(1 for v in by_patient.values() if len(v) > 1) >= 50
    # A follow-up that names a dated prior names one strictly earlier than itself.
    for r in rows:
        for prior in re.findall(r"\b(\d{4}-\d{2}-\d{2})\b", r["Reports"]):
            assert prior < r["study_date"], (r["id"], prior)


def test_generator_is_deterministic(tmp_path: Path) -> None:
    out = tmp_path / "again.csv"
    subprocess.run([sys.executable, str(GENERATOR), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == CSV_PATH.read_bytes(), "demo/reports.csv is stale: rerun demo/generate_reports.py"


@pytest.mark.parametrize(
    "family, alternatives",
    [
        ("Pleural Effusion", ["effusion"]),
        ("Pneumothorax", ["pneumothorax"]),
        ("Fracture", ["fracture"]),
        (
            "Support Devices",
            ["endotracheal tube", "nasogastric tube", "picc", "central venous catheter", "pacemaker", "sternotomy", "chest tube"],
        ),
        ("Cardiomegaly", ["cardiomegaly", "heart is mildly enlarged", "heart is moderately enlarged"]),
        (
            "Enlarged Cardiomediastinum",
            ["mediastinum is widened", "widened mediastinum", "cardiomediastinal silhouette appears enlarged"],
        ),
        ("Edema", ["edema"]),
        ("Atelectasis", ["atelectasis"]),
        ("Consolidation", ["consolidation"]),
        ("Pneumonia", ["pneumonia"]),
        ("Lung Lesion", ["nodule", "mass"]),
        ("Lung Opacity", ["opacity", "opacities"]),
        ("Mediastinum", ["mediastin"]),
        ("Pleural Other", ["pleural thickening", "pleural plaques"]),
        ("No Finding", ["no acute cardiopulmonary process"]),
        ("Outside the 14", ["emphysema", "granuloma", "scoliosis", "hiatal hernia", "degenerative"]),
    ],
)
def test_observation_families_appear(corpus: str, family: str, alternatives: list[str]) -> None:
    # Every listed phrase must appear, so each bank actually reaches the output.
    missing = [a for a in alternatives if a not in corpus]
    assert not missing, f"{family}: missing {missing}"


@pytest.mark.parametrize(
    "phrase",
    [
        "no pneumothorax",
        "no pleural effusion",
        "no focal consolidation",
        "no pulmonary edema",
        "no acute fracture",
        "no cardiomegaly",
        "mediastinum is not widened",
        "no suspicious pulmonary nodule",
        "without evidence of pulmonary edema",
    ],
)
def test_negated_forms_appear(corpus: str, phrase: str) -> None:
    assert phrase in corpus


@pytest.mark.parametrize(
    "phrase",
    ["cannot be excluded", "cannot exclude", "possible", "may represent", "versus", "likely", "not excluded"],
)
def test_uncertain_forms_appear(corpus: str, phrase: str) -> None:
    assert phrase in corpus


def test_positioned_support_devices(corpus: str) -> None:
    assert re.search(r"endotracheal tube terminates [\d.]+ cm above the carina", corpus)
    assert "tip in the stomach" in corpus
    assert "superior vena cava" in corpus
    assert "right ventricle" in corpus


def test_comparisons_with_prior_studies(corpus: str) -> None:
    dated = r"compared (?:with|to) the (?:prior study of|radiograph from) \d{4}-\d{2}-\d{2}, "
    assert re.search(dated + r"the \w+ pleural effusion has (?:decreased|increased)", corpus)
    assert re.search(dated + r"there is no significant interval change", corpus)
    assert "has decreased" in corpus


def test_heading_conventions(rows: list[dict[str, str]]) -> None:
    texts = [r["Reports"] for r in rows]
    openi = [t for t in texts if re.search(r"(?m)^INDICATION: .+\nCOMPARISON: .+\nFINDINGS: .+", t)]
    mimic = [
        t
        for t in texts
        if t.lstrip().startswith("FINAL REPORT")
        and " EXAMINATION:  CHEST" in t
        and re.search(r"(?m)^ FINDINGS:\n \n", t)
        and re.search(r"(?m)^ IMPRESSION:\n \n", t)
    ]
    numbered = [t for t in texts if re.search(r"(?m)^ ?1\. .+\n ?2\. ", t)]
    no_headings = [t for t in texts if ":" not in t]
    one_line = [t for t in texts if "\n" not in t and len(t) < 80]
    long = [t for t in texts if len(re.findall(r"[a-z0-9)]\.(?:\s|$)", t)) >= 10]
    assert len(openi) >= 20
    assert len(mimic) >= 20
    assert len(numbered) >= 10
    assert len(no_headings) >= 10
    assert len(one_line) >= 5
    assert len(long) >= 5


def test_indications_mention_conditions(rows: list[dict[str, str]]) -> None:
    indications = [
        m.group(1).lower()
        for r in rows
        for m in re.finditer(r"(?m)^ ?(?:INDICATION|HISTORY|CLINICAL HISTORY|REASON FOR EXAM): +(.+)$", r["Reports"])
    ]
    assert any("rule out pneumonia" in i for i in indications)
    assert any("history of chf" in i for i in indications)


def test_deidentified_tokens_present(corpus: str) -> None:
    assert "___" in corpus


def test_no_clear_lungs_with_consolidation(rows: list[dict[str, str]]) -> None:
    """Coherence: a report calling the lungs clear does not also describe a consolidation."""
    positive = re.compile(r"(dense|focal) (airspace )?consolidation in|consolidation (in the|has decreased)")
    for r in rows:
        text = r["Reports"].lower()
        if "the lungs are clear" in text:
            assert not positive.search(text), r["id"]
