from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.selectors import gold_labels_for_export, gold_set_version_get
from labeling.services.exports import EXPORT_FORMATS, gold_label_set_export
from labeling.services.files import atomic_text_writer
from privacy.services.access_audit import report_access_record


class Command(BaseCommand):
    help = "Export the gold set: CheXpert CSV (1.0/0.0/-1.0/empty) or JSONL with provenance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True)
        parser.add_argument("--format", choices=EXPORT_FORMATS, default=None, help="default: from the file name, else csv")
        parser.add_argument("--gold-version", default=None, help="a frozen gold-set version; default the current gold set")

    def handle(self, *args: object, **options: object) -> None:
        output = str(options["output"])
        fmt = options["format"] or ("jsonl" if output.endswith((".jsonl", ".ndjson")) else "csv")
        version = None
        if options["gold_version"]:
            version = gold_set_version_get(name=str(options["gold_version"]))
            if version is None:
                raise CommandError(f"no gold-set version named {options['gold_version']!r}")
        # Audited like the export page (no user or address: the command line).
        report_access_record(user=None, report_ids=gold_labels_for_export(gold_version=version).values_list("report_id", flat=True),
                             channel="command:export_gold")
        count = 0
        with atomic_text_writer(output) as fh:
            for chunk in gold_label_set_export(fmt=str(fmt), gold_version=version):
                fh.write(chunk)
                count += 1
        rows = count - 1 if fmt == "csv" else count
        self.stdout.write(f"wrote {rows} gold label(s) to {output}")
