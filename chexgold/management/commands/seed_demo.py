from __future__ import annotations

from celery import current_app
from django.core.management.base import BaseCommand

from accounts.services import user_create_or_update
from chexgold.demo import DEMO_REPORTS, DEMO_USERS
from labeling.report_files import format_errors
from labeling.services.prelabel import new_reports_prelabel
from labeling.services.report_import import report_import


class Command(BaseCommand):
    help = "Create the demo users and import the demo reports (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for username, password, roles in DEMO_USERS:
            # The demo passwords are weak on purpose (README lists them): the only caller that skips the validators.
            user_create_or_update(username=username, password=password, roles=list(roles), demo_user=True)
        result = report_import(path=DEMO_REPORTS)
        if not result.ok:
            self.stderr.write(format_errors(result.errors))
            raise SystemExit(1)
        self.stdout.write(f"demo reports: {result.batch.message}")
        if result.created_ids:
            self.stdout.write(new_reports_prelabel(report_ids=result.created_ids, inline=True))
        self.stdout.write(_first_model_message())


def _first_model_message() -> str:
    # The first model version is trained in the background from the demo
    # reports' rule labels (ml_worker), so the review UI shows model labels soon.
    current_app.send_task("ml_worker.tasks.demo_first_model_task", queue="gpu")
    return "queued: train a first model version from the rule labels (if none exists)"
