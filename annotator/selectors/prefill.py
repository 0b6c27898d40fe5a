"""Machine labels shown on the review page (rules, active model) and their evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from annotator.text_offsets import utf16_offset_converter
from api.compiled_queries import CompiledQuery
from labeling.models import (
    MachinePrediction,
    Report,
)
from labeling.observations import LabelDict
from labeling.routing import PrefillCell, model_is_usable, route, routing_table
from labeling.selectors import active_model_version_get, runtime_settings_get


@dataclass(frozen=True)
class MachineLabels:
    rules: LabelDict | None
    rules_version: str | None
    model: LabelDict | None
    model_version: str | None
    probabilities: dict[str, dict[str, float]] | None
    evidence: dict[str, list[dict[str, object]]]  # JS (UTF-16) offsets
    cells: dict[str, PrefillCell] = field(default_factory=dict)  # the routed pre-fill, per observation
    routing: dict[str, str] = field(default_factory=dict)  # observation -> "rules" | "model"
    model_usable: bool = False  # the active version passed its promotion gate
    mode: str = "uncontested"

    @property
    def prefill(self) -> dict[str, str]:
        """The values a new read starts from: "" where nothing is pre-filled (a contested row)."""
        return {name: cell.value or "" for name, cell in self.cells.items()}

    @property
    def contested(self) -> list[str]:
        return [name for name, cell in self.cells.items() if cell.contested]

    def snapshot(self) -> dict[str, dict[str, object]]:
        """What the pre-fill was, per observation, for the annotation's provenance."""
        return {name: cell.as_dict() for name, cell in self.cells.items()}


# Read for every report shown to a reader: compiled once per process (api.compiled_queries).
_RULE_LABELS = CompiledQuery("annotator.rule_labels_of_report", lambda slots: (
    MachinePrediction.objects.filter(report_id=slots.int("report_id"), source=MachinePrediction.Source.RULES)
    .order_by("-id").values("labels", "source_version", "evidence")[:1]
))
_MODEL_LABELS = CompiledQuery("annotator.model_labels_of_report", lambda slots: (
    MachinePrediction.objects.filter(report_id=slots.int("report_id"), model_version_id=slots.int("model_version_id"))
    .order_by("pk").values("labels", "probabilities", "evidence")[:1]
))


def machine_labels_for_report(*, report: Report) -> MachineLabels:
    """Rule labels (latest rule version for this report), the active model's
    labels, rule evidence with offsets converted for JavaScript, and the routed
    pre-fill (`labeling.routing`): per observation from the labeler the active
    version's promotion gate chose, contested rows left without a value."""
    rows = _RULE_LABELS.run(report_id=report.pk)
    rules = rows[0] if rows else None
    model_version = active_model_version_get()
    model = None
    if model_version is not None:
        rows = _MODEL_LABELS.run(report_id=report.pk, model_version_id=model_version.pk)
        model = rows[0] if rows else None
    evidence_raw = (rules.get("evidence") if rules else None) or {}
    model_evidence = model.get("evidence") if model else None
    if model_evidence:
        evidence_raw = {**evidence_raw, **{k: v for k, v in model_evidence.items() if v}}
    gate = model_version.gate if model_version is not None else None
    mode = runtime_settings_get().prefill
    usable = model is not None and model_is_usable(gate)
    cells = route(
        rules=rules["labels"] if rules else None, rules_version=rules["source_version"] if rules else None,
        model=model["labels"] if model else None, model_version=model_version.name if model_version else None,
        probabilities=model.get("probabilities") if model else None, gate=gate, mode=mode,
        min_probability=settings.CHEXGOLD_PREFILL_MIN_PROBABILITY,
    )
    return MachineLabels(
        rules=rules["labels"] if rules else None,
        rules_version=rules["source_version"] if rules else None,
        model=model["labels"] if model else None,
        model_version=model_version.name if model and model_version else None,
        probabilities=model.get("probabilities") if model else None,
        evidence=evidence_for_js(text=report.text, evidence=evidence_raw),
        cells=cells,
        routing=routing_table(gate) if usable else {name: "rules" for name in cells},
        model_usable=usable,
        mode=mode,
    )


_SPAN_KEYS = ("start", "end", "sentence_start", "sentence_end", "cue_start", "cue_end")


def evidence_for_js(*, text: str, evidence: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    """Evidence spans with every offset converted to UTF-16 units."""
    convert = utf16_offset_converter(text)
    out: dict[str, list[dict[str, object]]] = {}
    for name, spans in evidence.items():
        converted = []
        for span in spans or []:
            item = dict(span)
            for key in _SPAN_KEYS:
                if isinstance(item.get(key), int):
                    item[key] = convert(item[key])  # type: ignore[arg-type]
            converted.append(item)
        out[name] = converted
    return out


def sections_for_js(*, report: Report) -> list[dict[str, object]]:
    convert = utf16_offset_converter(report.text)
    result = []
    for row in report.sections or []:
        name, heading_start, body_start, body_end = row
        result.append(
            {"name": str(name), "heading_start": convert(heading_start), "body_start": convert(body_start), "body_end": convert(body_end)}
        )
    return result
