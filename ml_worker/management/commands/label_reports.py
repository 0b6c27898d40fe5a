"""Label a report file with the rule labeler or a model; CheXpert-format output.

Lives in ml_worker because it needs both labelers (ml_worker may depend on
labeling, not the other way). The rules path touches no database.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling import chexpert_csv
from labeling.report_files import ReportFileError, read_texts_for_labeling, write_stream
from labeling.rules.pool import label_json_parallel
from labeling.sections import SectionMode
from labeling.selectors import active_model_version_get
from labeling.services.files import atomic_text_writer
from labeling.uncertainty import POLICY_HELP, UncertaintyPolicyError, uncertainty_policy_parse
from ml_worker.services import routed_labels_for_texts


class Command(BaseCommand):
    help = (
        "Label reports in a CSV/JSONL file (importer conventions) and write the CheXpert labeler's output format: "
        "Reports, id (when the input had ids), then the 14 observations (1.0 / 0.0 / -1.0 / empty)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--labeler", choices=("rules", "model", "routed"), default="rules",
                            help="routed: as the review page pre-fills (labeling.routing): per observation the rules or the "
                                 "active model as its promotion gate decided; contested values are left empty "
                                 "(listed with their provenance by --provenance)")
        parser.add_argument("--prefill-mode", choices=("uncontested", "routed"), default=None,
                            help="routed: the site's pre-fill mode by default")
        parser.add_argument("--provenance", default=None, help="routed: also write each value's source, probability and contest as JSONL")
        parser.add_argument("--input", required=True)
        parser.add_argument("--output", required=True)
        parser.add_argument("--section", choices=[m.value for m in SectionMode], default=None,
                            help="rules: which sections to read (default auto); models use their checkpoint's setting")
        parser.add_argument("--evidence", default=None, help="rules: also write the evidence as JSONL")
        parser.add_argument("--checkpoint", default=None,
                            help="model: one of our checkpoint directories or an original CheXbert file; default the active model version")
        parser.add_argument("--column-order", choices=chexpert_csv.COLUMN_ORDERS, default="chexpert",
                            help="chexbert: CheXbert's 'Report Impression' header and column order")
        parser.add_argument("--workers", type=int, default=None,
                            help="rules: labelling processes (default CHEXGOLD_RULES_WORKERS, 1: this process)")
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--uncertain", default=None, help=POLICY_HELP + " (the --evidence and --provenance files keep the labeler's own values)")

    def handle(self, *args: object, **options: object) -> None:
        try:
            policy = uncertainty_policy_parse(str(options["uncertain"]) if options["uncertain"] else None)
        except UncertaintyPolicyError as exc:
            raise CommandError(f"--uncertain: {exc}") from None
        try:
            layout, rows = read_texts_for_labeling(str(options["input"]))
        except (OSError, ReportFileError) as exc:
            raise CommandError(f"{options['input']}: {exc}") from None
        texts = [r.text for r in rows]
        evidence: list[dict[str, list[dict[str, object]]]] | None = None
        if options["labeler"] == "rules":
            workers = settings.CHEXGOLD_RULES_WORKERS if options["workers"] is None else int(str(options["workers"]))
            if workers < 1:
                raise CommandError("--workers must be at least 1")
            labelled = label_json_parallel(texts, section=str(options["section"] or SectionMode.AUTO.value), workers=workers)
            labels = [row_labels for row_labels, _ in labelled]
            evidence = [row_evidence for _, row_evidence in labelled]
        elif options["labeler"] == "routed":
            if options["evidence"]:
                raise CommandError("--evidence is only produced by the rule labeler")
            cells = routed_labels_for_texts(texts=texts, mode=str(options["prefill_mode"]) if options["prefill_mode"] else None)
            # CheXpert CSV has no "no value": a contested value is written empty (as blank) and listed in --provenance.
            labels = [{name: cell.value or "blank" for name, cell in row.items()} for row in cells]
            if options["provenance"]:
                with atomic_text_writer(str(options["provenance"])) as fh:
                    for row, row_cells in zip(rows, cells, strict=True):
                        fh.write(json.dumps({"id": row.external_id, "line": row.line,
                                             "cells": {n: c.as_dict() for n, c in row_cells.items()}}) + "\n")
        else:
            if options["evidence"]:
                raise CommandError("--evidence is only produced by the rule labeler")
            labels = self._model_labels(texts, options)
        labels = [policy.apply(row_labels) for row_labels in labels]
        order = str(options["column_order"])
        has_ids = layout.has_ids

        def csv_rows():  # type: ignore[no-untyped-def]
            yield chexpert_csv.header(has_ids=has_ids, column_order=order)
            for row, row_labels in zip(rows, labels, strict=True):
                yield chexpert_csv.row(
                    text=row.text, external_id=(row.external_id or "") if has_ids else None, labels=row_labels, column_order=order
                )

        with atomic_text_writer(str(options["output"])) as fh:
            for chunk in write_stream(csv_rows()):
                fh.write(chunk)
        if options["evidence"] and evidence is not None:
            with atomic_text_writer(str(options["evidence"])) as fh:
                for row, row_evidence in zip(rows, evidence, strict=True):
                    fh.write(json.dumps({"id": row.external_id, "line": row.line, "evidence": row_evidence}) + "\n")
        self.stdout.write(f"labelled {len(rows)} report(s) with the {options['labeler']} labeler -> {options['output']}")

    def _model_labels(self, texts: list[str], options: dict[str, object]) -> list[dict[str, str]]:
        # here: these import torch, which the rule labeler does not need
        from ml_worker.ml.checkpoints import CheckpointError
        from ml_worker.predictors import predictor_for_path

        path = options["checkpoint"]
        if not path:
            version = active_model_version_get()
            if version is None:
                raise CommandError("no active model version yet: train one (manage.py train_model) or pass --checkpoint")
            path = version.checkpoint_path
        try:
            predictor = predictor_for_path(str(path), batch_size=int(options["batch_size"]))  # type: ignore[call-overload]
        except (CheckpointError, OSError) as exc:
            raise CommandError(str(exc)) from None
        return [p.labels for p in predictor.predict(texts)]
