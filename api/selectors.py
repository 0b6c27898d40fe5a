"""Reads the API needs beyond `labeling.selectors` / `annotator.selectors`.

Blinding rules are the ones of `annotator.selectors.report_for_reader` (a
reader sees a report only while it is reserved for them or once they have an
annotation of it; never a flagged one) applied to lists, and
`annotation_visible_get` (only one's own annotations).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from annotator.models import Reservation
from api.models import RoleChange
from labeling.models import Annotation, GoldLabel, MachinePrediction, ModelVersion, Report, RuntimeSettings
from labeling.observations import OBSERVATION_NAMES
from labeling.roles import Role
from labeling.selectors import active_model_version_get, latest_rules_version

REPORT_STATUSES = ("unread", "in_review", "gold", "flagged")


def _flagged_q() -> Q:
    return Q(is_flagged=True)


def reports_with_status() -> QuerySet[Report]:
    now = timezone.now()
    return Report.objects.annotate(
        has_gold=Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)),
        has_reads=Exists(Annotation.objects.filter(report_id=OuterRef("pk")))
        | Exists(Reservation.objects.filter(report_id=OuterRef("pk"), state=Reservation.State.ACTIVE, expires_at__gt=now)),
        flagged=F("is_flagged"),
    )


def report_status(report: Report) -> str:
    """Status of a report annotated by `reports_with_status`."""
    if report.flagged:  # type: ignore[attr-defined]
        return "flagged"
    if report.has_gold:  # type: ignore[attr-defined]
        return "gold"
    if report.has_reads:  # type: ignore[attr-defined]
        return "in_review"
    return "unread"


def reports_visible(*, user: AbstractBaseUser, roles: frozenset[Role]) -> QuerySet[Report]:
    """Reports `user` may list: everything for admins and adjudicators; for a
    reader only reports reserved for them or read by them, never flagged ones."""
    qs = reports_with_status()
    if roles & {Role.ADMIN, Role.ADJUDICATOR}:
        return qs.order_by("id")
    if Role.READER in roles:
        mine = Exists(
            Reservation.objects.filter(report_id=OuterRef("pk"), reader=user, state=Reservation.State.ACTIVE)
        ) | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=user))
        return qs.filter(mine).exclude(_flagged_q()).order_by("id")
    return qs.none()


def reports_filter(
    qs: QuerySet[Report],
    *,
    status: str | None = None,
    observation: str | None = None,
    value: str | None = None,
    source: str = "rules",
    disagreement: bool | None = None,
) -> QuerySet[Report]:
    """Filter by status, by a machine label (`observation` = `value` from `source`
    rules or the active model), and by rule/model disagreement."""
    if status == "flagged":
        qs = qs.filter(flagged=True)
    elif status == "gold":
        qs = qs.filter(flagged=False, has_gold=True)
    elif status == "in_review":
        qs = qs.filter(flagged=False, has_gold=False, has_reads=True)
    elif status == "unread":
        qs = qs.filter(flagged=False, has_gold=False, has_reads=False)
    if observation and value:
        qs = qs.filter(Exists(_predictions(source).filter(report_id=OuterRef("pk"), **{f"labels__{observation}": value})))
    if disagreement is not None:
        rules, model = latest_rules_version(), active_model_version_get()
        if rules is None or model is None:
            return qs.none() if disagreement else qs
        # Per observation: the rule label (text) of this report, compared with the model's.
        rule_rows = MachinePrediction.objects.filter(
            source=MachinePrediction.Source.RULES, source_version=rules, report_id=OuterRef("pk")
        )
        annotated = qs.annotate(
            **{f"rule_{_slug(n)}": Subquery(rule_rows.annotate(v=KT(f"labels__{n}")).values("v")[:1]) for n in OBSERVATION_NAMES}
        )
        model_rows = MachinePrediction.objects.filter(model_version=model, report_id=OuterRef("pk")).annotate(
            **{f"m_{_slug(n)}": KT(f"labels__{n}") for n in OBSERVATION_NAMES}
        )
        differs = Q()
        for name in OBSERVATION_NAMES:
            differs |= ~Q(**{f"m_{_slug(name)}": OuterRef(f"rule_{_slug(name)}")})
        different = Exists(model_rows.filter(differs))
        has_both = Exists(rule_rows) & Exists(MachinePrediction.objects.filter(model_version=model, report_id=OuterRef("pk")))
        qs = annotated.filter(has_both).filter(different if disagreement else ~different)
    return qs


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _predictions(source: str) -> QuerySet[MachinePrediction]:
    if source == "model":
        model = active_model_version_get()
        return MachinePrediction.objects.filter(model_version=model) if model else MachinePrediction.objects.none()
    rules = latest_rules_version()
    return MachinePrediction.objects.filter(source=MachinePrediction.Source.RULES, source_version=rules or "")


def annotations_of_reader(*, reader: AbstractBaseUser) -> QuerySet[Annotation]:
    """The reader's own annotations (never anyone else's), newest first."""
    return Annotation.objects.filter(reader=reader).select_related("report").order_by("-updated_at", "-id")


# --- audit history ------------------------------------------------------------
AUDIT_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "annotation": (Annotation, ("report_id", "reader_id", "labels", "status", "version")),
    "gold_label": (GoldLabel, ("report_id", "labels", "method", "is_current", "adjudicator_id", "rationale", "supersedes_id")),
    "model_version": (ModelVersion, ("name", "is_active", "promoted_at", "stage")),
    "runtime_settings": (RuntimeSettings, ("reads_per_report", "reservation_minutes", "queue_order", "auto_gold", "promotion_policy")),
}
AUDIT_KINDS = (*AUDIT_FIELDS, "role")
_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass(frozen=True)
class AuditEntry:
    at: Any
    kind: str
    object_id: int
    action: str
    by: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at, "kind": self.kind, "object_id": self.object_id, "action": self.action,
            "by": self.by, "before": self.before, "after": self.after,
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _history_qs(kind: str) -> QuerySet:
    model, _ = AUDIT_FIELDS[kind]
    return model.history.select_related("history_user").order_by("-history_date", "-history_id")


def _history_entry(kind: str, record: Any) -> AuditEntry:
    _, fields = AUDIT_FIELDS[kind]
    after = {f: _jsonable(getattr(record, f)) for f in fields}
    before = None
    if record.history_type != "+":
        prev = record.prev_record
        before = {f: _jsonable(getattr(prev, f)) for f in fields} if prev is not None else None
    if record.history_type == "-":
        before, after = after if before is None else before, None
    user = record.history_user
    return AuditEntry(record.history_date, kind, record.id, _ACTIONS.get(record.history_type, record.history_type),
                      user.get_username() if user else None, before, after)


def _role_qs() -> QuerySet[RoleChange]:
    return RoleChange.objects.select_related("user", "changed_by").order_by("-changed_at", "-id")


def _role_entry(row: RoleChange) -> AuditEntry:
    return AuditEntry(
        row.changed_at, "role", row.user_id, f"role {row.role} {row.action}",
        row.changed_by.get_username() if row.changed_by else None,
        {"user": row.user.get_username(), "roles": row.roles_before},
        {"user": row.user.get_username(), "roles": row.roles_after},
    )


def _source(kind: str) -> tuple[QuerySet, Any]:
    if kind == "role":
        return _role_qs(), _role_entry
    return _history_qs(kind), lambda r, k=kind: _history_entry(k, r)


class AuditLog:
    """All audit entries, newest first, as a sliceable sequence (for pagination)
    or a stream (for CSV export). Merges the per-table histories by time."""

    def __init__(self, kinds: tuple[str, ...] = AUDIT_KINDS) -> None:
        self.kinds = kinds

    def count(self) -> int:
        return sum(_source(k)[0].count() for k in self.kinds)

    def __len__(self) -> int:
        return self.count()

    def _merged(self, limit: int | None) -> Iterator[AuditEntry]:
        streams = []
        for kind in self.kinds:
            qs, to_entry = _source(kind)
            rows = qs[:limit] if limit is not None else qs.iterator(chunk_size=2000)
            streams.append(map(to_entry, rows))
        return heapq.merge(*streams, key=lambda e: e.at, reverse=True)

    def __getitem__(self, item: slice) -> list[AuditEntry]:
        if not isinstance(item, slice):
            raise TypeError("AuditLog supports slices only")
        start, stop = item.start or 0, item.stop
        return list(itertools.islice(self._merged(stop), start, stop))

    def __iter__(self) -> Iterator[AuditEntry]:
        return self._merged(None)
