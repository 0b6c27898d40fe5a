"""Per-observation guidelines: current text and history."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from annotator.models import GuidelineVersion
from labeling.observations import OBSERVATION_NAMES, Observation

DEFAULT_GUIDELINES: dict[str, str] = {
    Observation.NO_FINDING.value: "Positive only when no other observation is positive or uncertain (Support Devices excepted).",
    Observation.ENLARGED_CARDIOMEDIASTINUM.value: "Widened mediastinum or enlarged cardiomediastinal silhouette. Positive when cardiomegaly is positive unless the report says the mediastinum is normal.",
    Observation.CARDIOMEGALY.value: "Enlarged heart / cardiac silhouette. 'Borderline' or 'upper limits of normal' is uncertain.",
    Observation.LUNG_LESION.value: "Nodule, mass, lesion, cavity or granuloma that is not calcified. Calcified granuloma alone: blank.",
    Observation.LUNG_OPACITY.value: "Any parenchymal opacity, including edema, consolidation, pneumonia, atelectasis and lesions.",
    Observation.EDEMA.value: "Pulmonary edema, vascular congestion with interstitial markings, Kerley lines.",
    Observation.CONSOLIDATION.value: "Consolidation or airspace disease. 'Cannot exclude' is uncertain.",
    Observation.PNEUMONIA.value: "Pneumonia or infection named by the report; consolidation alone is not pneumonia.",
    Observation.ATELECTASIS.value: "Atelectasis, collapse, volume loss; 'atelectasis versus consolidation' is uncertain for both.",
    Observation.PNEUMOTHORAX.value: "Pneumothorax of any size; 'no pneumothorax' is negative.",
    Observation.PLEURAL_EFFUSION.value: "Pleural effusion or fluid; blunted costophrenic angle alone is uncertain.",
    Observation.PLEURAL_OTHER.value: "Pleural thickening, plaques, fibrosis or calcification.",
    Observation.FRACTURE.value: "Acute or old fractures of ribs, clavicles, spine; 'healed' fractures are still positive.",
    Observation.SUPPORT_DEVICES.value: "Lines, tubes, pacemakers, wires, valves, clips and other devices.",
}


@dataclass(frozen=True)
class Guideline:
    observation: str
    text: str
    version: int  # 0 = built-in default


def guidelines_current() -> dict[str, Guideline]:
    """The current guideline of each observation, in CheXpert order."""
    latest: dict[str, GuidelineVersion] = {}
    for version in GuidelineVersion.objects.order_by("observation", "-version"):
        latest.setdefault(version.observation, version)
    out = {}
    for name in OBSERVATION_NAMES:
        row = latest.get(name)
        out[name] = Guideline(name, row.text, row.version) if row else Guideline(name, DEFAULT_GUIDELINES.get(name, ""), 0)
    return out


def guideline_history(*, observation: str) -> QuerySet[GuidelineVersion]:
    return GuidelineVersion.objects.filter(observation=observation).select_related("created_by").order_by("-version")
