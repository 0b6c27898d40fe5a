"""`manage.py evaluate`: CheXpert-format files aligned by id, full and positive-only scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.observations import OBSERVATION_NAMES

HEADER = ",".join(OBSERVATION_NAMES)


def _row(**values: str) -> str:
    return ",".join(values.get(n, "") for n in OBSERVATION_NAMES)


def test_full_report_aligned_by_any_id_column(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    gold = tmp_path / "gold.csv"
    pred = tmp_path / "pred.csv"
    gold.write_text(f"study_id,{HEADER}\nA,{_row(Edema='1')}\nB,{_row(Edema='0')}\nC,{_row(Edema='-1')}\n")
    pred.write_text(f"Reports,id,{HEADER}\nx,C,{_row(Edema='-1.0')}\ny,A,{_row(Edema='1.0')}\nz,B,{_row(Edema='1.0')}\n")
    call_command("evaluate", "--gold", str(gold), "--pred", str(pred), "--json")
    data = json.loads(capsys.readouterr().out)
    edema = next(r for r in data["observations"] if r["observation"] == "Edema")
    # positive: P 1/2, R 1/1 -> F1 2/3; negative: F1 0; uncertain: F1 1; weighted by support (1, 1, 1).
    assert edema["weighted_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert data["n_reports"] == 3


def test_positive_only_gold_like_open_i(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    gold = tmp_path / "gold.csv"
    pred = tmp_path / "pred.csv"
    gold.write_text(f"id,{HEADER}\n1,{_row(Fracture='1')}\n2,{_row(Fracture='0')}\n")
    pred.write_text(f"id,{HEADER}\n1,{_row(Fracture='-1.0')}\n2,{_row(Fracture='0.0')}\n")
    call_command("evaluate", "--gold", str(gold), "--pred", str(pred), "--gold-positive-only", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["positive"]["per_observation"]["Fracture"]["f1"] == 0.0
    assert data["positive_or_uncertain"]["per_observation"]["Fracture"]["f1"] == 1.0
    call_command("evaluate", "--gold", str(gold), "--pred", str(pred), "--gold-positive-only")
    assert "micro average" in capsys.readouterr().out


def test_bad_cells_and_disjoint_ids_are_clear_errors(tmp_path: Path) -> None:
    gold = tmp_path / "gold.csv"
    pred = tmp_path / "pred.csv"
    gold.write_text(f"id,{HEADER}\n1,{_row(Edema='yes')}\n")
    pred.write_text(f"id,{HEADER}\n2,{_row()}\n")
    with pytest.raises(CommandError, match="line 2, column 'Edema'"):
        call_command("evaluate", "--gold", str(gold), "--pred", str(pred))
    gold.write_text(f"id,{HEADER}\n1,{_row()}\n")
    with pytest.raises(CommandError, match="share no id"):
        call_command("evaluate", "--gold", str(gold), "--pred", str(pred))
