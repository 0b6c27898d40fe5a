"""Exports: the gold set and machine labels in the CheXpert CSV convention, and
the gold set as JSONL with provenance. Streamed: constant memory at any size.

Every export takes an uncertainty policy (`labeling.uncertainty`: as-is, the
default; positive / U-Ones; negative / U-Zeros; blank; hedged-absent; or per
observation), which changes uncertain values only."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest

from api.errors import DomainError, NotFound
from labeling import chexpert_csv
from labeling.label_studio import label_studio_task
from labeling.models import GoldLabel, GoldSetVersion, MachinePrediction
from labeling.observations import OBSERVATION_NAMES, LabelValue
from labeling.report_files import write_stream
from labeling.selectors import (
    active_model_version_get,
    gold_labels_for_export,
    gold_set_version_get,
    latest_rules_version,
    model_version_get_by_name,
    predictions_for_export,
    predictions_of_reports,
    reports_for_label_studio,
)
from labeling.uncertainty import AS_IS_POLICY, UncertaintyPolicy, UncertaintyPolicyError, uncertainty_policy_parse
from labeling.uncertainty import POLICY_HELP as UNCERTAIN_HELP  # noqa: F401 - the commands' --uncertain help
from privacy.services.access_audit import report_access_record

EXPORT_FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
ITER_CHUNK = 2000


class ExportFormatUnknown(DomainError):
    code = "invalid"


class UncertaintyPolicyInvalid(DomainError):
    code = "invalid_uncertainty_policy"


def uncertainty_policy_get(*, spec: str | None) -> UncertaintyPolicy:
    """The policy `spec` names (None or "": as-is); UncertaintyPolicyInvalid (400) saying what is wrong."""
    try:
        return uncertainty_policy_parse(spec)
    except UncertaintyPolicyError as exc:
        raise UncertaintyPolicyInvalid(f"uncertain: {exc}") from None


@dataclass(frozen=True)
class GoldExport:
    chunks: Iterator[str]
    content_type: str
    filename: str
    fmt: str


def gold_export_open(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    fmt: str = "csv",
    version_name: str | None = None,
    channel: str | None = None,
    request: HttpRequest | None = None,
    uncertain: str | None = None,
) -> GoldExport:
    """The one way to export the gold set (page, API, command): check the format,
    the frozen version (`version_name`; None or "" = the current gold set) and the
    uncertainty policy (`uncertain`, see `labeling.uncertainty`; None = as-is),
    record the access before any text leaves, and return the stream.
    Raises ExportFormatUnknown or UncertaintyPolicyInvalid (400), or NotFound (404)."""
    if fmt not in EXPORT_FORMATS:
        raise ExportFormatUnknown("format must be csv or jsonl")
    policy = uncertainty_policy_get(spec=uncertain)
    version = None
    if version_name:
        version = gold_set_version_get(name=version_name)
        if version is None:
            raise NotFound(f"no gold-set version named {version_name!r}")
    report_access_record(user=user, request=request, channel=channel,
                         report_ids=gold_labels_for_export(gold_version=version).values_list("report_id", flat=True))
    return GoldExport(
        chunks=gold_label_set_export(fmt=fmt, gold_version=version, policy=policy),
        content_type=CONTENT_TYPES[fmt],
        filename=f"gold-{version.name if version else 'current'}.{fmt}",
        fmt=fmt,
    )


def gold_label_set_export(
    *, fmt: str = "csv", gold_version: GoldSetVersion | None = None, policy: UncertaintyPolicy = AS_IS_POLICY
) -> Iterator[str]:
    """Yield the gold set as CSV (CheXpert convention) or JSONL (with provenance),
    uncertain values as `policy` says; one chunk per line (CSV: the header first).

    Rows are read as plain tuples, `ITER_CHUNK` at a time from one cursor
    (server-side on PostgreSQL), never as model instances: memory stays flat
    and 1M rows stream in seconds."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected csv or jsonl)")
    labels = gold_labels_for_export(gold_version=gold_version)
    if fmt == "csv":
        rows = labels.values_list("report__text", "report__external_id", "labels").iterator(chunk_size=ITER_CHUNK)
        yield from write_stream(_csv_rows(rows, policy))
        return
    yield from _gold_jsonl_lines(labels, gold_version.name if gold_version else None, policy)


def _csv_rows(rows: Iterator[tuple[str, str, dict[str, str]]], policy: UncertaintyPolicy) -> Iterator[list[str]]:
    yield chexpert_csv.header(has_ids=True)
    if policy.is_identity:
        for text, external_id, labels in rows:
            yield chexpert_csv.row(text=text, external_id=external_id, labels=labels)
        return
    for text, external_id, labels in rows:
        yield chexpert_csv.row(text=text, external_id=external_id, labels=policy.apply(labels))


_NUMERIC = {v.value: v.numeric for v in LabelValue}


def _gold_jsonl_lines(labels: QuerySet[GoldLabel], version_name: str | None, policy: UncertaintyPolicy) -> Iterator[str]:
    """One JSON object per gold label: its report, labels and provenance (who read,
    who adjudicated, which file it was imported from). The reads of each chunk of
    gold labels come in one query."""
    username = get_user_model().USERNAME_FIELD
    rows = labels.values_list(
        "id", "report__external_id", "report__text", "labels", "method", f"adjudicator__{username}", "rationale",
        "created_at", "supersedes_id", "label_import_id", "label_import__filename", "label_import__zero_means",
        f"label_import__created_by__{username}", "label_import__created_at", "report_id",
    ).iterator(chunk_size=ITER_CHUNK)
    reads_of = GoldLabel.annotations.through.objects.values_list(  # type: ignore[attr-defined]
        "goldlabel_id", f"annotation__reader__{username}", "annotation__submitted_at"
    )
    identity = policy.is_identity
    while chunk := list(itertools.islice(rows, ITER_CHUNK)):
        # The chunk's reads: those of its reports' gold labels (rows come in report
        # order, so a range, which needs no parameter per row), kept for its own.
        gold_ids = {row[0] for row in chunk}
        reads: dict[int, list[tuple[str, dt.datetime | None]]] = {}
        for gold_id, reader, submitted_at in reads_of.filter(
            goldlabel__report_id__gte=chunk[0][14], goldlabel__report_id__lte=chunk[-1][14]
        ):
            if gold_id in gold_ids:
                reads.setdefault(gold_id, []).append((reader, submitted_at))
        for (gold_id, external_id, text, gold_labels, method, adjudicator, rationale, created_at, supersedes_id,
             import_id, import_filename, import_zero_means, import_by, import_at, _report_id) in chunk:
            values = gold_labels if identity else policy.apply(gold_labels)
            gold_reads = sorted(reads.get(gold_id, ()), key=lambda read: read[0])
            record = {
                "id": external_id,
                "text": text,
                "labels": _numeric_labels(values),
                "provenance": {
                    "gold_label_id": gold_id,
                    "method": method,
                    "readers": [reader for reader, _ in gold_reads],
                    "reads": [
                        {"reader": reader, "submitted_at": submitted_at.isoformat() if submitted_at else None}
                        for reader, submitted_at in gold_reads
                    ],
                    "adjudicator": adjudicator,
                    "rationale": rationale,
                    "created_at": created_at.isoformat(),
                    "supersedes": supersedes_id,
                    "gold_set_version": version_name,
                    # Method "imported": the file, who imported it and when.
                    "import": None if import_id is None else {
                        "label_import_id": import_id, "filename": import_filename, "zero_means": import_zero_means,
                        "by": import_by, "at": import_at.isoformat(),
                    },
                    "uncertainty_policy": policy.spec,
                },
            }
            yield _json_encode(record) + "\n"


# json.dumps(record, ensure_ascii=False) without building an encoder per call.
_json_encode = json.JSONEncoder(ensure_ascii=False).encode


def _numeric_labels(values: dict[str, str]) -> dict[str, float | None]:
    try:
        return {name: _NUMERIC[values[name]] for name in OBSERVATION_NAMES}
    except KeyError:  # a missing observation, or a value LabelValue names in its ValueError
        return {name: LabelValue(values[name]).numeric for name in OBSERVATION_NAMES}


def machine_predictions_export(
    *, source: str, source_version: str, column_order: str = "chexpert", policy: UncertaintyPolicy = AS_IS_POLICY
) -> Iterator[str]:
    """Yield one labeler's predictions for the whole corpus as a CheXpert CSV,
    uncertain values as `policy` says."""
    if source not in MachinePrediction.Source.values:
        raise ValueError(f"unknown source {source!r}")
    rows = predictions_for_export(source=source, source_version=source_version).values_list(
        "report__text", "report__external_id", "labels"
    )

    def generate() -> Iterator[list[str]]:
        yield chexpert_csv.header(has_ids=True, column_order=column_order)
        for text, external_id, labels in rows.iterator(chunk_size=ITER_CHUNK):
            yield chexpert_csv.row(text=text, external_id=external_id, labels=policy.apply(labels), column_order=column_order)

    yield from write_stream(generate())


# --- Label Studio -----------------------------------------------------------------------
@dataclass
class LabelStudioExport:
    chunks: Iterator[str]  # a JSON list of tasks, streamed
    filename: str
    sources: list[tuple[str, str]]  # (source, version) of each prediction, in task order
    content_type: str = "application/json"


def prediction_source_resolve(*, spec: str) -> tuple[str, str]:
    """``rules`` (the latest rules version), ``model`` (the active version),
    ``model:VERSION`` or ``external:NAME`` as (source, version); NotFound when
    that labeler has no predictions."""
    spec = spec.strip()
    if spec == "rules":
        version = latest_rules_version()
        if version is None:
            raise NotFound("No rule predictions yet.")
        return MachinePrediction.Source.RULES, version
    if spec == "model" or spec.startswith("model:"):
        name = spec.partition(":")[2].strip()
        model_version = model_version_get_by_name(name=name) if name else active_model_version_get()
        if model_version is None:
            raise NotFound(f"No model version {name!r}." if name else "No active model version yet.")
        return MachinePrediction.Source.MODEL, model_version.name
    if spec.startswith("external:") and spec.partition(":")[2].strip():
        name = spec.partition(":")[2].strip()
        if not predictions_for_export(source=MachinePrediction.Source.EXTERNAL, source_version=name).exists():
            raise NotFound(f"No predictions of an external labeler named {name!r}.")
        return MachinePrediction.Source.EXTERNAL, name
    raise ExportFormatUnknown("A prediction source is rules, model, model:VERSION or external:NAME.")


def label_studio_export_open(
    *, user: AbstractBaseUser | AnonymousUser | None, sources: list[str] | None = None, request: HttpRequest | None = None,
    channel: str | None = None,
) -> LabelStudioExport:
    """Every report (not withdrawn or flagged) as a Label Studio task, with the
    machine labels of `sources` (default: the rules, and the active model when
    there is one) as predictions whose ``model_version`` is ``source:version``.
    The reports handed out are recorded in the access audit. Pair it with
    `labeling.label_studio.label_studio_config()`."""
    if sources:
        resolved = [prediction_source_resolve(spec=s) for s in dict.fromkeys(sources)]
    else:
        resolved = [prediction_source_resolve(spec="rules")] if latest_rules_version() else []
        if active_model_version_get() is not None:
            resolved.append(prediction_source_resolve(spec="model"))
    reports = reports_for_label_studio()
    report_access_record(user=user, report_ids=reports.values_list("id", flat=True), request=request, channel=channel)

    def generate() -> Iterator[str]:
        yield "["
        first = True
        ids_texts = reports.values_list("id", "external_id", "text")
        chunk: list[tuple[int, str, str]] = []

        def flush() -> Iterator[str]:
            nonlocal first
            by_report = predictions_of_reports(report_ids=[r[0] for r in chunk], sources=resolved)
            for report_id, external_id, text in chunk:
                preds = [(f"{source}:{version}", by_report[report_id][(source, version)])
                         for source, version in resolved if (source, version) in by_report.get(report_id, {})]
                task = label_studio_task(external_id=external_id, text=text, predictions=preds)
                yield ("\n" if first else ",\n") + json.dumps(task, ensure_ascii=False)
                first = False

        for row in ids_texts.iterator(chunk_size=ITER_CHUNK):
            chunk.append(row)
            if len(chunk) >= ITER_CHUNK:
                yield from flush()
                chunk = []
        if chunk:
            yield from flush()
        yield "\n]\n"

    return LabelStudioExport(chunks=generate(), filename="label-studio-tasks.json", sources=resolved)
