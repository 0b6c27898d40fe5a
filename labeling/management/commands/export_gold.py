from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.errors import DomainError
from labeling.services.exports import EXPORT_FORMATS, UNCERTAIN_HELP, gold_export_open
from labeling.services.files import atomic_text_writer


class Command(BaseCommand):
    help = "Export the gold set: CheXpert CSV (1.0/0.0/-1.0/empty) or JSONL with provenance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True)
        parser.add_argument("--format", choices=EXPORT_FORMATS, default=None, help="default: from the file name, else csv")
        parser.add_argument("--gold-version", default=None, help="a frozen gold-set version; default the current gold set")
        parser.add_argument("--uncertain", default=None, help=UNCERTAIN_HELP)

    def handle(self, *args: object, **options: object) -> None:
        output = str(options["output"])
        fmt = options["format"] or ("jsonl" if output.endswith((".jsonl", ".ndjson")) else "csv")
        try:
            # Audited like the export page (no user or address: the command line).
            export = gold_export_open(user=None, fmt=str(fmt), version_name=str(options["gold_version"] or ""),
                                      channel="command:export_gold", uncertain=options["uncertain"])  # type: ignore[arg-type]
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        count = 0
        with atomic_text_writer(output) as fh:
            for chunk in export.chunks:
                fh.write(chunk)
                count += 1
        rows = count - 1 if fmt == "csv" else count
        self.stdout.write(f"wrote {rows} gold label(s) to {output}")
