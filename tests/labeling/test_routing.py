"""Per-observation routing of the pre-fill (labeling.routing) and what the review page shows of it."""

from __future__ import annotations

import pytest
from django.test import Client

from annotator import services
from labeling.models import Annotation, MachinePrediction, ModelVersion
from labeling.routing import route
from tests.factories import labels

GATE_EDEMA = {"status": "gold", "reason": "test", "observations": [{"observation": "Edema", "serves": True}]}
RULES = labels(edema="positive", pleural_effusion="negative")
MODEL = labels(edema="positive", pleural_effusion="positive")
PROBS = {"Edema": {"positive": 0.95}, "Pleural Effusion": {"positive": 0.9}}


def _route(**kw):  # type: ignore[no-untyped-def]
    args = {"rules": RULES, "rules_version": "1.3", "model": MODEL, "model_version": "v2-gold", "probabilities": PROBS,
            "gate": GATE_EDEMA, "mode": "uncontested", "min_probability": 0.7}
    args.update(kw)
    return route(**args)


def test_disagreement_is_contested_and_not_prefilled() -> None:
    cells = _route()
    assert cells["Pleural Effusion"].contested and cells["Pleural Effusion"].value is None
    assert cells["Pleural Effusion"].rule == "negative" and cells["Pleural Effusion"].model == "positive"
    assert cells["Edema"].value == "positive" and cells["Edema"].source == "model" and cells["Edema"].probability == 0.95
    assert cells["Cardiomegaly"].source == "rules" and cells["Cardiomegaly"].source_version == "1.3"


def test_an_unsure_routed_model_value_is_contested() -> None:
    cells = _route(probabilities={"Edema": {"positive": 0.55}})
    assert cells["Edema"].contested and cells["Edema"].value is None


def test_negative_and_blank_both_say_absent_so_they_do_not_contest() -> None:
    # The model says "negative" where the silent rules say "blank": no disagreement about the finding.
    cells = _route(model=labels(edema="positive", pleural_effusion="negative", cardiomegaly="negative"),
                   probabilities={"Edema": {"positive": 0.95}, "Cardiomegaly": {"negative": 0.5, "blank": 0.4, "positive": 0.1}})
    assert not cells["Cardiomegaly"].contested and cells["Cardiomegaly"].value == "blank"  # the rules route it
    gate = {"status": "gold", "reason": "test", "observations": [{"observation": "Cardiomegaly", "serves": True}]}
    served = _route(model=labels(cardiomegaly="negative"), gate=gate,
                    probabilities={"Cardiomegaly": {"negative": 0.5, "blank": 0.4, "positive": 0.1}})
    # Routed to the model, whose value is pre-filled; its confidence is that of "absent" (0.9), not of "negative" alone.
    assert not served["Cardiomegaly"].contested and served["Cardiomegaly"].value == "negative"
    assert served["Cardiomegaly"].probability == pytest.approx(0.9)


def test_routed_mode_fills_every_row_and_none_mode_fills_nothing() -> None:
    routed = _route(mode="routed")
    assert routed["Pleural Effusion"].value == "negative" and routed["Pleural Effusion"].contested  # the rules route it
    assert all(c.value is None for c in _route(mode="none").values())


def test_a_model_that_failed_its_gate_takes_no_part() -> None:
    cells = _route(gate={"status": "failed", "observations": []})
    assert all(c.source == "rules" and not c.contested and c.model is None for c in cells.values())
    assert cells["Pleural Effusion"].value == "negative"


@pytest.mark.django_db
def test_review_page_leaves_contested_rows_unanswered_names_sources_and_refuses_a_submit_without_them(make_user, make_reports, settings_row):  # type: ignore[no-untyped-def]
    reader = make_user("reader1", "reader")
    (report,) = make_reports(1)
    MachinePrediction.objects.filter(report=report).update(labels=RULES)
    version = ModelVersion.objects.create(name="v2-gold", checkpoint_path="/x", is_active=True, gate=GATE_EDEMA)
    MachinePrediction.objects.create(report=report, source="model", source_version=version.name, model_version=version,
                                     labels=MODEL, probabilities=PROBS)
    services.next_report_assign(reader=reader)
    client = Client()
    client.force_login(reader)
    page = client.get(f"/review/{report.id}/").content.decode()
    assert "Contested: choose" in page and "Model v2-gold (0.95)" in page and "Rules test" in page
    effusion = page.split('data-obs="Pleural Effusion"')[1].split('class="obs-row')[0]
    assert "checked" not in effusion  # no value, not a pre-filled blank
    # Submitting the pre-fill as it is (one key) leaves the contested row out: refused, naming it.
    form = {f"obs-{name.lower().replace(' ', '_')}": value for name, value in labels(edema="positive").items() if name != "Pleural Effusion"}
    response = client.post(f"/review/{report.id}/submit", {**form, "version": "0"})
    assert response.status_code == 400 and "Pleural Effusion" in response.content.decode()
    api = client.post("/api/annotations/", {"report": report.id, "labels": {"Edema": "positive"}}, content_type="application/json")
    assert api.status_code == 201
    body = {"labels": {k: v for k, v in labels(edema="positive").items() if k != "Pleural Effusion"}, "version": 1}
    refused = client.post(f"/api/annotations/{api.json()['id']}/submit/", body, content_type="application/json")
    assert refused.status_code == 400 and "Pleural Effusion" in refused.content.decode()
    # The reader chooses; the annotation records what was pre-filled and what became of it.
    body["labels"]["Pleural Effusion"] = "negative"
    body["labels"]["Cardiomegaly"] = "positive"
    assert client.post(f"/api/annotations/{api.json()['id']}/submit/", body, content_type="application/json").status_code == 200
    annotation = Annotation.objects.get(report=report, reader=reader)
    assert annotation.prefill["Edema"]["source"] == "model" and annotation.prefill["Pleural Effusion"]["contested"]
    assert annotation.prefill_outcome["Edema"] == "kept" and annotation.prefill_outcome["Pleural Effusion"] == "chosen"
    assert annotation.prefill_outcome["Cardiomegaly"] == "changed"
    from quality.statistics import statistics_get

    prefill = statistics_get(n_resamples=10)["prefill"]
    edema = next(p for p in prefill["by_source"] if p["observation"] == "Edema")
    assert edema["source"] == "model" and edema["kept"] == 1 and edema["acceptance"] == 1.0
    cardio = next(p for p in prefill["by_source"] if p["observation"] == "Cardiomegaly")
    assert cardio["source"] == "rules" and cardio["changed"] == 1
    assert prefill["contested_rows"] == 1 and prefill["rows"] == 14


@pytest.mark.django_db
def test_scripts_get_the_same_routed_labels_from_the_api_and_the_command(make_user, tmp_path, settings_row):  # type: ignore[no-untyped-def]
    import csv

    from django.core.management import call_command

    admin = make_user("boss", "admin")
    client = Client()
    client.force_login(admin)
    texts = ["Small left pleural effusion. No pneumothorax.", "Heart size normal. Lungs clear."]
    data = client.post("/api/labels/routed/", {"texts": texts}, content_type="application/json").json()
    # No model has passed a gate here: the rules pre-fill every observation, nothing is contested.
    first = data["results"][0]
    assert first["labels"]["Pleural Effusion"] == "positive" and first["labels"]["Pneumothorax"] == "negative"
    assert first["contested"] == [] and first["cells"]["Pleural Effusion"]["source"] == "rules"
    src = tmp_path / "in.csv"
    src.write_text("id,Reports\n" + "".join(f'r{i},"{t}"\n' for i, t in enumerate(texts)))
    out, prov = tmp_path / "out.csv", tmp_path / "prov.jsonl"
    call_command("label_reports", "--labeler", "routed", "--input", str(src), "--output", str(out), "--provenance", str(prov))
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["Pleural Effusion"] == "1.0" and rows[0]["Pneumothorax"] == "0.0"
    assert '"source": "rules"' in prov.read_text()
    reader = make_user("r", "reader")
    client.force_login(reader)
    assert client.post("/api/labels/routed/", {"texts": texts}, content_type="application/json").status_code == 403
