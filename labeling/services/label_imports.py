"""The record of a prior-label file import (`LabelImport`): who imported which
file, when, how it was read and what it changed. The rows themselves are
written by their owners (gold: `annotator.services.gold`; reads:
`annotator.services.label_import`; external predictions:
`labeling.services.predictions`)."""

from __future__ import annotations

from django.contrib.auth.models import User

from labeling.models import GoldSetVersion, LabelImport


def label_import_record(
    *, filename: str, kind: str, name: str, zero_means: str, replace: bool, user: User | None,
    rows_read: int, rows_created: int, rows_replaced: int, rows_unchanged: int, message: str = "",
) -> LabelImport:
    if kind not in LabelImport.Kind.values:
        raise ValueError(f"unknown label import kind {kind!r}")
    return LabelImport.objects.create(
        filename=filename[:255], kind=kind, name=name, zero_means=zero_means, replace=replace,
        created_by=user if user is not None and user.is_authenticated else None,
        rows_read=rows_read, rows_created=rows_created, rows_replaced=rows_replaced, rows_unchanged=rows_unchanged,
        message=message,
    )


def label_import_finish(*, label_import: LabelImport, message: str, gold_set_version: GoldSetVersion | None = None) -> None:
    label_import.message = message
    label_import.gold_set_version = gold_set_version
    label_import.save(update_fields=["message", "gold_set_version"])
