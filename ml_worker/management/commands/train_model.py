from __future__ import annotations

import sys
import threading

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from labeling.management.progress import CountProgress
from ml_worker.models import TrainingRun
from ml_worker.services import (
    NoTrainingData,
    TrainingRunConflict,
    silver_rule_labels_complete,
    training_run_create,
    training_run_execute,
)


class Command(BaseCommand):
    help = "Train a model version on rule labels (silver) or gold labels, in the foreground or on the gpu queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stage", choices=TrainingRun.Stage.values, required=True)
        parser.add_argument("--base", choices=("active", "encoder"), default=None,
                            help="start from the active model version or the base encoder (default: silver=encoder, gold=active)")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--lr", type=float, dest="learning_rate")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--max-length", type=int)
        parser.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (smoke runs)")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--queue", action="store_true", help="send the run to the gpu queue instead of running it here")

    def handle(self, *args: object, **options: object) -> None:
        stage = str(options["stage"])
        base = options["base"] or ("encoder" if stage == "silver" else "active")
        overrides = {k: options[k] for k in ("epochs", "learning_rate", "batch_size", "max_length", "max_steps", "seed")}
        if stage == TrainingRun.Stage.SILVER:
            # Here, before the run exists: an import's labelling may be queued with no worker to run it.
            try:
                labelled = silver_rule_labels_complete(progress=CountProgress("rule labels", self.stderr))
            except NoTrainingData as exc:
                raise CommandError(str(exc)) from None
            if labelled:
                self.stdout.write(f"rule labels stored for {labelled} report(s) that had none")
        try:
            run = training_run_create(stage=stage, base=str(base), overrides=overrides, trigger="command", enqueue=bool(options["queue"]))
        except (TrainingRunConflict, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if options["queue"]:
            self.stdout.write(f"queued training run {run.id} on the gpu queue")
            return
        self.stdout.write(f"training run {run.id} ({stage}) starting; progress below")
        run = _run_with_progress_bar(run.id, self.stdout)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run {run.id} {run.status}:\n{run.log[-3000:]}")
        self.stdout.write(run.log)
        version = run.produced_version
        assert version is not None
        self.stdout.write(self.style.SUCCESS(
            f"model version {version.name} registered; {version.metrics['promotion']['decision']}"
        ))


def _run_with_progress_bar(run_id: int, out: object) -> TrainingRun:
    """Execute the run here, drawing a one-line progress bar from its progress updates."""
    done = threading.Event()

    def draw() -> None:
        while not done.wait(2.0):
            progress = TrainingRun.objects.filter(id=run_id).values_list("progress", flat=True).first() or {}
            total = progress.get("total_steps") or 0
            step = progress.get("step") or 0
            width = 30
            filled = int(width * step / total) if total else 0
            loss = progress.get("loss")
            val = progress.get("val_score")
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] step {step}/{total} epoch {progress.get('epoch', 0)}"
                f" loss {loss if loss is None else round(loss, 4)} val {val if val is None else round(val, 4)}   "
            )
            sys.stderr.flush()
        connection.close()

    drawer = threading.Thread(target=draw, daemon=True)
    drawer.start()
    try:
        try:
            return training_run_execute(run_id=run_id)
        except NoTrainingData as exc:
            raise CommandError(str(exc)) from None
    finally:
        done.set()
        drawer.join(timeout=5)
        sys.stderr.write("\n")
