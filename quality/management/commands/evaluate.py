from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.chexpert_csv import read_label_file
from labeling.report_files import ReportFileError
from quality.metrics import evaluation_report, format_positive_only_table, format_report_table, positive_only_scores


class Command(BaseCommand):
    help = (
        "Compare two CheXpert-format label CSVs aligned by id: per observation P/R/F1 for positive, negative "
        "and uncertain and the CheXbert-style weighted F1; with --gold-positive-only, positive and "
        "positive-or-uncertain F1 and their micro average."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gold", required=True, help="reference labels (id + 14 observation columns; no text needed)")
        parser.add_argument("--pred", required=True, help="labeler output in the same format")
        parser.add_argument(
            "--gold-positive-only",
            action="store_true",
            help="the gold file marks only positives (0 = not recorded, not negative), like Open-i's codes",
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of tables")

    def handle(self, *args: object, **options: object) -> None:
        try:
            gold_by_id = read_label_file(str(options["gold"]))
            pred_by_id = read_label_file(str(options["pred"]))
        except (OSError, ReportFileError) as exc:
            raise CommandError(str(exc)) from None
        ids = [i for i in gold_by_id if i in pred_by_id]
        if not ids:
            raise CommandError("the two files share no id")
        gold = [gold_by_id[i] for i in ids]
        pred = [pred_by_id[i] for i in ids]
        skipped = len(gold_by_id) - len(ids)
        if options["gold_positive_only"]:
            scores = [positive_only_scores(gold, pred, False), positive_only_scores(gold, pred, True)]
            if options["json"]:
                data = {"n_reports": len(ids), "skipped_gold_ids": skipped,
                        "positive": scores[0].as_dict(), "positive_or_uncertain": scores[1].as_dict()}
                self.stdout.write(json.dumps(data, indent=2))
                return
            self.stdout.write(format_positive_only_table(*scores, titles=("positive", "positive or uncertain")))
        else:
            report = evaluation_report(gold, pred)
            if options["json"]:
                self.stdout.write(json.dumps({**report.as_dict(), "skipped_gold_ids": skipped}, indent=2))
                return
            self.stdout.write(format_report_table(report))
        self.stdout.write(f"\n{len(ids)} report(s) compared" + (f"; {skipped} gold id(s) missing from --pred were skipped" if skipped else ""))
