from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.management.progress import CountProgress
from labeling.report_files import format_errors
from labeling.services.prelabel import new_reports_prelabel
from labeling.services.report_import import report_import
from labeling.services.upload_validation import report_file_problems
from privacy.deid import deid_summary_text


class Command(BaseCommand):
    help = "Import reports from a CSV or JSONL file (CheXpert/CheXbert/MIMIC column conventions)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--no-label", action="store_true", help="do not compute rule labels for the new reports")
        parser.add_argument(
            "--label-in-background",
            action="store_true",
            help="queue rule labelling as a task for a worker instead of labelling the new reports here "
            "(the default, with progress on stderr)",
        )
        parser.add_argument("--workers", type=int, default=None,
                            help="processes that rule-label the new reports here (default CHEXGOLD_RULES_WORKERS)")

    def handle(self, *args: object, **options: object) -> None:
        path = str(options["file"])
        workers = None if options["workers"] is None else int(str(options["workers"]))
        if workers is not None and workers < 1:
            raise CommandError("--workers must be at least 1")
        if not os.path.isfile(path):
            raise CommandError(f"{path}: nothing was imported; cannot read the file (no such file)")
        # File-level checks as for uploads; the import validates every row itself
        # (and writes nothing if one is bad), so rows are not read twice here.
        problems = report_file_problems(path=path, read_rows=False)
        if problems:
            raise CommandError(f"{path}: nothing was imported; " + format_errors(problems))
        result = report_import(path=path)
        if result.deid.get("total"):
            self.stdout.write(deid_summary_text(result.deid))
        if not result.ok:
            raise CommandError(f"{path}: nothing was imported; " + format_errors(result.errors))
        self.stdout.write(f"{path}: {result.rows_read} row(s) read, {result.batch.message}")
        if not options["no_label"] and result.created_ids:
            # In the foreground by default, so that a `train_model --stage silver`
            # right after finds its rule labels without a running worker.
            inline = not options["label_in_background"]
            progress = CountProgress("rule labels", self.stderr) if inline else None
            self.stdout.write(
                new_reports_prelabel(report_ids=result.created_ids, inline=inline, progress=progress, workers=workers)
            )
