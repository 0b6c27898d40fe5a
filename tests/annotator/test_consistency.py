from __future__ import annotations

from annotator.consistency import consistency_warnings
from tests.factories import labels


def codes(**values: str) -> list[str]:
    return [w.code for w in consistency_warnings(labels(**values))]


def test_consistent_labels_have_no_warnings():
    assert codes(no_finding="positive", support_devices="positive") == []
    assert codes(edema="positive", lung_opacity="positive", cardiomegaly="positive", enlarged_cardiomediastinum="positive") == []
    assert codes(cardiomegaly="positive", enlarged_cardiomediastinum="blank") == []  # blank is not negative
    assert codes(edema="positive", lung_opacity="blank") == []


def test_no_finding_with_positive_or_uncertain_finding():
    assert codes(no_finding="positive", edema="uncertain") == ["no_finding_with_findings"]
    assert codes(no_finding="positive", fracture="positive") == ["no_finding_with_findings"]
    assert codes(no_finding="positive", fracture="negative") == []
    (warning,) = consistency_warnings(labels(no_finding="positive", edema="positive", fracture="uncertain"))
    assert warning.observations == ("No Finding", "Edema", "Fracture") and "Edema, Fracture" in warning.message


def test_child_finding_without_lung_opacity():
    for child in ("edema", "consolidation", "pneumonia", "atelectasis", "lung_lesion"):
        assert codes(**{child: "positive", "lung_opacity": "negative"}) == ["opacity_child_without_opacity"]
    assert codes(edema="uncertain", lung_opacity="negative") == []
    assert codes(pneumothorax="positive", lung_opacity="negative") == []


def test_cardiomegaly_without_enlarged_cardiomediastinum():
    assert codes(cardiomegaly="positive", enlarged_cardiomediastinum="negative") == ["cardiomegaly_without_enlarged_cardiomediastinum"]


def test_several_warnings_in_stable_order():
    assert codes(no_finding="positive", edema="positive", lung_opacity="negative", cardiomegaly="positive",
                 enlarged_cardiomediastinum="negative") == [
        "no_finding_with_findings", "opacity_child_without_opacity", "cardiomegaly_without_enlarged_cardiomediastinum"]
