"""Machine predictions: storing rule labels (and, via ml_worker, model labels)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db import transaction

from labeling.models import LabelImport, MachinePrediction, ModelVersion, Report
from labeling.rules import RULES_VERSION
from labeling.rules.pool import RulePool

CHUNK = 500


def rule_predictions_create(
    *,
    report_ids: Iterable[int] | None = None,
    section: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> int:
    """Label reports with the rule labeler and store the predictions.

    Idempotent and resumable: reports that already have a prediction from this
    rules version are skipped; each chunk commits on its own, so a job that
    dies part-way keeps the chunks it finished and the rerun does the rest.
    `report_ids=None` labels every report that lacks one. `progress(done,
    total)` is called before the first chunk and after each committed chunk
    (total: the reports that still needed labels; no call when none did). Returns the number
    of predictions written.
    """
    section = section or settings.CHEXGOLD_LABEL_SECTION
    done = MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES, source_version=RULES_VERSION)
    if report_ids is None:
        candidates = Report.objects.exclude(id__in=done.values("report_id")).order_by("id").values_list("id", flat=True)
        ids = list(candidates)
    else:
        wanted = sorted(set(report_ids))
        have: set[int] = set()
        for start in range(0, len(wanted), 900):
            have.update(done.filter(report_id__in=wanted[start : start + 900]).values_list("report_id", flat=True))
        ids = [i for i in wanted if i not in have]
    written = 0
    if progress is not None and ids:
        progress(0, len(ids))
    workers = settings.CHEXGOLD_RULES_WORKERS if workers is None else max(1, workers)
    # With several workers a chunk must hold work for all of them.
    size = CHUNK * workers
    with RulePool(workers) as pool:
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            texts = list(Report.objects.filter(id__in=chunk).values_list("id", "text"))
            labelled = pool.label_json([text for _, text in texts], section)
            rows = [
                MachinePrediction(
                    report_id=report_id,
                    source=MachinePrediction.Source.RULES,
                    source_version=RULES_VERSION,
                    labels=labels,
                    evidence=evidence,
                )
                for (report_id, _), (labels, evidence) in zip(texts, labelled, strict=True)
            ]
            with transaction.atomic():
                MachinePrediction.objects.bulk_create(rows, ignore_conflicts=True)
            written += len(rows)
            if progress is not None:
                progress(min(start + size, len(ids)), len(ids))
    return written


def model_predictions_store(
    *,
    model_version: ModelVersion,
    report_ids: Sequence[int],
    labels: Sequence[dict[str, str]],
    probabilities: Sequence[dict[str, dict[str, float]]],
) -> int:
    """Store one chunk of a model version's predictions (idempotent per report)."""
    rows = [
        MachinePrediction(
            report_id=report_id,
            source=MachinePrediction.Source.MODEL,
            source_version=model_version.name,
            model_version=model_version,
            labels=report_labels,
            probabilities=probs,
        )
        for report_id, report_labels, probs in zip(report_ids, labels, probabilities, strict=True)
    ]
    with transaction.atomic():
        MachinePrediction.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def external_predictions_store(*, label_import: LabelImport, labeler: str, rows: Sequence[tuple[int, dict[str, str]]]) -> int:
    """Store another labeler's labels imported from a file (source "external",
    `source_version` = the labeler's name, pointing to `label_import`). Reports
    that already have a prediction of this labeler are left as they are (the
    import's validation refuses a file that would change one). Returns the
    number of rows given."""
    objs = [
        MachinePrediction(report_id=report_id, source=MachinePrediction.Source.EXTERNAL, source_version=labeler,
                          labels=labels, label_import=label_import)
        for report_id, labels in rows
    ]
    with transaction.atomic():
        created = MachinePrediction.objects.bulk_create(objs, batch_size=CHUNK, ignore_conflicts=True)
    return len(created)
