"""Forms of the labeling pages that another app's view also handles: the
label-import form is shown on the Imports page (labeling) and posted to
`annotator.views.label_import`, since gold and reads are written by annotator."""

from __future__ import annotations

from typing import Any

from django import forms

from labeling.label_files import ZERO_MEANS
from labeling.label_studio import FORMAT as LABEL_STUDIO
from labeling.models import LabelImport


class LabelImportForm(forms.Form):
    # Field names prefixed ("labels-file"): the report upload form on the same page has a `file` too.
    prefix = "labels"

    file = forms.FileField(label="Label file (CSV, JSONL or Label Studio JSON)")
    kind = forms.ChoiceField(label="Import as", choices=LabelImport.Kind.choices, initial=LabelImport.Kind.GOLD)
    reader = forms.CharField(label="Reader (username, for reads)", required=False, max_length=150)
    labeler = forms.CharField(label="Labeler name (for predictions)", required=False, max_length=100)
    zero_means = forms.ChoiceField(
        label="A 0 cell means", initial="negative",
        choices=[(z, {"negative": "negative (CheXpert convention)", "blank": "blank: not coded (positive-only references)"}[z])
                 for z in ZERO_MEANS],
    )
    replace = forms.BooleanField(label="Gold: supersede a report's current gold when it differs", required=False)
    file_format = forms.ChoiceField(
        label="File format", initial="auto", required=False,
        choices=[("auto", "CheXpert CSV or JSONL"), (LABEL_STUDIO, "Label Studio JSON export")],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        # Only the name the chosen kind uses is passed on (a name typed before switching kinds is ignored).
        if kind == LabelImport.Kind.READS and not (data.get("reader") or "").strip():
            self.add_error("reader", "Reads belong to a reader: give the reader's username.")
        if kind == LabelImport.Kind.PREDICTIONS and not (data.get("labeler") or "").strip():
            self.add_error("labeler", "Predictions need the labeler's name.")
        if data.get("replace") and kind != LabelImport.Kind.GOLD:
            self.add_error("replace", "Replace applies to gold only.")
        return data
