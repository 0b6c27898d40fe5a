"""Export the reports with our machine labels as Label Studio tasks (JSON) and
the labeling config that fits them; see `labeling.label_studio`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.errors import DomainError
from labeling.label_studio import label_studio_config
from labeling.services.exports import label_studio_export_open
from labeling.services.files import atomic_text_writer


class Command(BaseCommand):
    help = ("Export every report (not flagged or withdrawn) as a Label Studio task with machine labels as predictions "
            "(--source rules | model | model:VERSION | external:NAME, repeatable; default: rules and the active model), "
            "and with --config the labeling config XML to create the Label Studio project with.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="the tasks JSON file (import it into Label Studio)")
        parser.add_argument("--source", action="append", default=None, help="a labeler whose labels become predictions (repeatable)")
        parser.add_argument("--config", default=None, help="also write the labeling config XML here")

    def handle(self, *args: object, **options: object) -> None:
        try:
            export = label_studio_export_open(user=None, sources=options["source"],  # type: ignore[arg-type]
                                              channel="command:export_label_studio")
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        tasks = 0
        with atomic_text_writer(str(options["output"])) as fh:
            for chunk in export.chunks:
                fh.write(chunk)
                tasks += chunk.startswith(("\n{", ",\n"))
        if options["config"]:
            with atomic_text_writer(str(options["config"])) as fh:
                fh.write(label_studio_config())
        sources = ", ".join(f"{s}:{v}" for s, v in export.sources) or "none"
        self.stdout.write(f"wrote {tasks} task(s) with predictions of {sources} to {options['output']}"
                          + (f" and the labeling config to {options['config']}" if options["config"] else ""))
