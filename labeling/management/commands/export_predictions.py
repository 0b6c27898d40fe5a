from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.errors import DomainError
from labeling.chexpert_csv import COLUMN_ORDERS
from labeling.models import MachinePrediction
from labeling.rules import RULES_VERSION
from labeling.selectors import active_model_version_get, model_version_get_by_name, predictions_for_export
from labeling.services.exports import UNCERTAIN_HELP, machine_predictions_export, uncertainty_policy_get
from labeling.services.files import atomic_text_writer
from privacy.services.access_audit import report_access_record


class Command(BaseCommand):
    help = "Export machine labels of the whole corpus as a CheXpert CSV (--source rules | model | model:VERSION | external:NAME)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True,
                            help="rules, model (the active version), model:VERSION or external:NAME (a labeler imported with import_labels)")
        parser.add_argument("--output", required=True)
        parser.add_argument("--column-order", choices=COLUMN_ORDERS, default="chexpert")
        parser.add_argument("--uncertain", default=None, help=UNCERTAIN_HELP)

    def handle(self, *args: object, **options: object) -> None:
        source = str(options["source"])
        try:
            policy = uncertainty_policy_get(spec=options["uncertain"])  # type: ignore[arg-type]
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        if source == "rules":
            kind, version = MachinePrediction.Source.RULES, RULES_VERSION
        elif source == "model" or source.startswith("model:"):
            name = source.partition(":")[2]
            model_version = model_version_get_by_name(name=name) if name else active_model_version_get()
            if model_version is None:
                raise CommandError(f"no model version {name!r}" if name else "no active model version yet")
            kind, version = MachinePrediction.Source.MODEL, model_version.name
        elif source.startswith("external:") and source.partition(":")[2].strip():
            kind, version = MachinePrediction.Source.EXTERNAL, source.partition(":")[2].strip()
            if not predictions_for_export(source=kind, source_version=version).exists():
                raise CommandError(f"no predictions of an external labeler named {version!r}")
        else:
            raise CommandError("--source must be rules, model, model:VERSION or external:NAME")
        # Audited like the export endpoint (no user or address: the command line).
        report_access_record(user=None, report_ids=predictions_for_export(source=kind, source_version=version).values_list("report_id", flat=True),
                             channel="command:export_predictions")
        count = 0
        with atomic_text_writer(str(options["output"])) as fh:
            for chunk in machine_predictions_export(source=kind, source_version=version, column_order=str(options["column_order"]), policy=policy):
                fh.write(chunk)
                count += 1
        self.stdout.write(f"wrote {max(count - 1, 0)} prediction(s) from {kind} {version} to {options['output']}")
