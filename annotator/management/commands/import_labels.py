"""Import prior labels (CheXpert CSV or JSONL) as gold, as a reader's reads, or as
an external labeler's predictions. Lives in annotator because gold and reads
are written here; see `annotator.services.label_import`."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.services.label_import import FILE_FORMATS, KINDS, label_file_import
from api.errors import DomainError
from labeling.label_files import ZERO_MEANS
from labeling.report_files import format_errors
from labeling.services.upload_validation import file_level_problems


class Command(BaseCommand):
    help = (
        "Import labels of already imported reports from a CheXpert-convention CSV (id or report text column, the 14 "
        "observations as 1.0/0.0/-1.0/empty) or JSONL ({\"id\": ..., \"labels\": {...}}): --as gold | --as reads --reader NAME | "
        "--as predictions --labeler NAME. The whole file is checked first; nothing is written if any row is bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--as", dest="kind", choices=KINDS, required=True,
                            help="gold: reference labels (a gold-set version import-N is frozen after the import); "
                                 "reads: submitted reads of --reader; predictions: an external labeler's output")
        parser.add_argument("--reader", default=None, help="reads: the reader's username (created with the reader role and no password if missing)")
        parser.add_argument("--labeler", default=None, help="predictions: the labeler's name, shown on the statistics page")
        parser.add_argument("--zero-means", choices=ZERO_MEANS, default="negative",
                            help="how a 0 cell is read: negative (CheXpert convention, the default) or blank (positive-only "
                                 "references where 0 means 'not coded', e.g. Open-i labels.csv)")
        parser.add_argument("--format", dest="file_format", choices=FILE_FORMATS, default="auto",
                            help="auto: CheXpert CSV or JSONL; label-studio: a Label Studio JSON export (gold: its annotations; "
                                 "reads: the annotations completed by --reader; predictions: its predictions)")
        parser.add_argument("--replace", action="store_true",
                            help="gold: supersede a report's current gold when the file's labels differ (otherwise that row is an error)")

    def handle(self, *args: object, **options: object) -> None:
        path = str(options["file"])
        if not os.path.isfile(path):
            raise CommandError(f"{path}: nothing was imported; cannot read the file (no such file)")
        problems = file_level_problems(name=os.path.basename(path), size=os.path.getsize(path))
        if problems:
            raise CommandError(f"{path}: nothing was imported; " + format_errors(problems))
        try:
            result = label_file_import(
                path=path, kind=str(options["kind"]), user=None, reader=options["reader"],  # type: ignore[arg-type]
                labeler=options["labeler"], zero_means=str(options["zero_means"]), replace=bool(options["replace"]),  # type: ignore[arg-type]
                file_format=str(options["file_format"]),
            )
        except DomainError as exc:
            raise CommandError(f"{path}: nothing was imported; {exc}") from None
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if not result.ok:
            raise CommandError(f"{path}: nothing was imported; " + format_errors(result.errors))
        self.stdout.write(result.message)
