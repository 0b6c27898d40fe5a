"""The change history of the label tables (annotations, gold labels, model
versions, runtime settings: django-simple-history) merged with role changes
(`accounts.RoleChange`) and account changes (`accounts.AccountChange`:
deactivations, passwords set), newest first, for the audit API and its CSV."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from accounts.models import AccountChange, RoleChange
from labeling.models import Annotation, GoldLabel, ImportBatch, ModelVersion, RuntimeSettings

AUDIT_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "annotation": (Annotation, ("report_id", "reader_id", "labels", "status", "version")),
    "gold_label": (GoldLabel, ("report_id", "labels", "method", "is_current", "adjudicator_id", "rationale", "supersedes_id")),
    "model_version": (ModelVersion, ("name", "is_active", "promoted_at", "stage")),
    # Report imports; a withdrawal (`labeling.services.withdraw`) is a change of withdrawn_at.
    "import_batch": (ImportBatch, ("filename", "status", "withdrawn_at", "withdrawn_by_id", "withdraw_reason")),
    "runtime_settings": (RuntimeSettings, ("reads_per_report", "reservation_minutes", "queue_order", "auto_gold", "promotion_policy")),
}
AUDIT_KINDS = (*AUDIT_FIELDS, "role", "account")
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
    # The row's id in its own table (history id, role or account change id): with
    # `at` and the kind, the entry's place in the one total order (`AuditCursor`).
    seq: int = field(default=0, compare=False)

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


_LOOK_UP = object()


def _history_entry(kind: str, record: Any, prev: Any = _LOOK_UP) -> AuditEntry:
    """`prev`: the record's previous version when the caller fetched it (None: none); else looked up here."""
    _, fields = AUDIT_FIELDS[kind]
    after: dict[str, Any] | None = {f: _jsonable(getattr(record, f)) for f in fields}
    before = None
    if record.history_type != "+":
        if prev is _LOOK_UP:
            prev = record.prev_record
        before = {f: _jsonable(getattr(prev, f)) for f in fields} if prev is not None else None
    if record.history_type == "-":
        before, after = after if before is None else before, None
    user = record.history_user
    return AuditEntry(record.history_date, kind, record.id, _ACTIONS.get(record.history_type, record.history_type),
                      user.get_username() if user else None, before, after, seq=record.history_id)


def _role_qs() -> QuerySet[RoleChange]:
    return RoleChange.objects.select_related("user", "changed_by").order_by("-changed_at", "-id")


def _role_entry(row: RoleChange) -> AuditEntry:
    return AuditEntry(
        row.changed_at, "role", row.user_id, f"role {row.role} {row.action}",
        row.changed_by.get_username() if row.changed_by else None,
        {"user": row.user.get_username(), "roles": row.roles_before},
        # `source`: local (chexgold's pages, API, commands) or the directory sync (oidc, ldap),
        # which has no acting user, so `by` alone cannot tell it from an unknown hand.
        {"user": row.user.get_username(), "roles": row.roles_after, "source": row.source},
        seq=row.id,
    )


# Kinds whose entries carry a report's labels (withheld from readers of that report).
LABEL_KINDS = ("annotation", "gold_label")


def _account_qs() -> QuerySet[AccountChange]:
    return AccountChange.objects.select_related("user", "changed_by").order_by("-at", "-id")


def _account_entry(row: AccountChange) -> AuditEntry:
    name = row.user.get_username()
    before, after = (({"user": name, "is_active": True}, {"user": name, "is_active": False})
                     if row.action == AccountChange.Action.DEACTIVATED else (None, {"user": name}))  # never a password
    return AuditEntry(row.at, "account", row.user_id, f"account {row.action}",
                      row.changed_by.get_username() if row.changed_by else None, before, after, seq=row.id)


def _entries(rows: list[tuple[str, Any]]) -> list[AuditEntry]:
    """Entries of (kind, row) pairs, the history rows' previous versions fetched in one query per table."""
    prevs: dict[tuple[str, int], Any] = {}
    for kind in {k for k, r in rows if k in AUDIT_FIELDS and r.history_type != "+"}:
        mine = [r for k, r in rows if k == kind and r.history_type != "+"]
        model, _ = AUDIT_FIELDS[kind]
        versions: dict[Any, list[Any]] = {}
        for v in (model.history.filter(id__in={r.id for r in mine}, history_date__lt=max(r.history_date for r in mine))
                  .order_by("id", "history_date", "history_id")):
            versions.setdefault(v.id, []).append(v)
        for r in mine:
            # As simple-history's prev_record: the object's latest version strictly before this one.
            older = [v for v in versions.get(r.id, []) if v.history_date < r.history_date]
            prevs[(kind, r.history_id)] = older[-1] if older else None
    out = []
    for kind, r in rows:
        if kind == "role":
            out.append(_role_entry(r))
        elif kind == "account":
            out.append(_account_entry(r))
        else:
            out.append(_history_entry(kind, r, prevs.get((kind, r.history_id))))
    return out


# Each source's (time column, id column): the keyset the cursor pages on.
_KEYSET = {"role": ("changed_at", "id"), "account": ("at", "id")}


def _source(kind: str, hidden_report_ids: Any = None) -> tuple[QuerySet, Any]:
    if kind == "role":
        return _role_qs(), _role_entry
    if kind == "account":
        return _account_qs(), _account_entry
    qs = _history_qs(kind)
    if hidden_report_ids is not None and kind in LABEL_KINDS:
        qs = qs.exclude(report_id__in=hidden_report_ids)
    return qs, lambda r, k=kind: _history_entry(k, r)


class AuditCursorInvalid(ValueError):
    """A `cursor` that this history did not hand out."""


@dataclass(frozen=True)
class AuditCursor:
    """A place in the history: entries strictly older than the entry at (`at`, `kind`, `seq`)
    in the one total order, newest first: time, then kind (AUDIT_KINDS order), then row id."""

    at: dt.datetime
    rank: int
    seq: int

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditCursor:
        return cls(entry.at, AUDIT_KINDS.index(entry.kind), entry.seq)

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.at.isoformat()}|{self.rank}|{self.seq}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> AuditCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, rank, seq = raw.split("|")
            cursor = cls(dt.datetime.fromisoformat(at), int(rank), int(seq))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuditCursorInvalid("cursor is not one this history handed out (use next_cursor as given)") from None
        if cursor.at.tzinfo is None or not 0 <= cursor.rank < len(AUDIT_KINDS):
            raise AuditCursorInvalid("cursor is not one this history handed out (use next_cursor as given)")
        return cursor

    def older_in(self, kind: str) -> Q:
        """Rows of `kind`'s table that come after this cursor (keyset condition, an index range)."""
        at_f, id_f = _KEYSET.get(kind, ("history_date", "history_id"))
        rank = AUDIT_KINDS.index(kind)
        if rank < self.rank:
            return Q(**{f"{at_f}__lte": self.at})
        if rank == self.rank:
            return Q(**{f"{at_f}__lt": self.at}) | Q(**{at_f: self.at, f"{id_f}__lt": self.seq})
        return Q(**{f"{at_f}__lt": self.at})


def _keyed(kind: str, rows: Any) -> Iterator[tuple[tuple[Any, int, int], str, Any]]:
    at_f, id_f = _KEYSET.get(kind, ("history_date", "history_id"))
    rank = AUDIT_KINDS.index(kind)
    for r in rows:
        yield (getattr(r, at_f), rank, getattr(r, id_f)), kind, r


def _order_key(entry: AuditEntry) -> tuple[Any, int, int]:
    return (entry.at, AUDIT_KINDS.index(entry.kind), entry.seq)


class AuditLog:
    """All audit entries, newest first, as a sliceable sequence (for pagination),
    a keyset page (`page_after`, for deep pages) or a stream (for CSV export).
    Merges the per-table histories by time (ties: kind, then row id).
    `hidden_report_ids` (ids or a subquery): reports whose annotation and gold
    entries are left out (the reader-blinding policy decides which)."""

    def __init__(self, kinds: tuple[str, ...] = AUDIT_KINDS, *, hidden_report_ids: Any = None) -> None:
        self.kinds = kinds
        self.hidden_report_ids = hidden_report_ids

    def count(self) -> int:
        return sum(_source(k, self.hidden_report_ids)[0].count() for k in self.kinds)

    def __len__(self) -> int:
        return self.count()

    def _merged(self, limit: int | None, after: AuditCursor | None = None) -> Iterator[AuditEntry]:
        streams = []
        for kind in self.kinds:
            qs, to_entry = _source(kind, self.hidden_report_ids)
            if after is not None:
                qs = qs.filter(after.older_in(kind))
            rows = qs[:limit] if limit is not None else qs.iterator(chunk_size=2000)
            streams.append(map(to_entry, rows))
        return heapq.merge(*streams, key=_order_key, reverse=True)

    def _key_at(self, index: int) -> AuditCursor | None:
        """The place of the `index`-th entry (0: the newest), from the order columns
        alone (no rows built, no previous versions looked up); None past the end.

        One statement: each table's newest `index + 1` keys (an index range), merged
        and counted past by the database (UNION ALL, ORDER BY, OFFSET) instead of
        fetching them all into Python (10,000 deep: ~70,000 key pairs before)."""
        parts, params = [], []
        for kind in self.kinds:
            qs, _ = _source(kind, self.hidden_report_ids)
            at_f, id_f = _KEYSET.get(kind, ("history_date", "history_id"))
            keys = qs.annotate(k_at=F(at_f), k_seq=F(id_f)).order_by(f"-{at_f}", f"-{id_f}").values_list("k_at", "k_seq")
            part_sql, part_params = keys[:index + 1].query.sql_with_params()
            rank = AUDIT_KINDS.index(kind)
            parts.append(f"SELECT p{rank}.k_at, {rank} AS k_rank, p{rank}.k_seq FROM ({part_sql}) p{rank}")
            params.extend(part_params)
        sql = (f"SELECT u.k_at, u.k_rank, u.k_seq FROM ({' UNION ALL '.join(parts)}) u "
               "ORDER BY u.k_at DESC, u.k_rank DESC, u.k_seq DESC LIMIT 1 OFFSET %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, index])
            row = cursor.fetchone()
        if row is None:
            return None
        at = row[0]
        if isinstance(at, str):  # SQLite hands raw columns back as text (UTC, as Django stores them)
            at = dt.datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return AuditCursor(at, int(row[1]), int(row[2]))

    def __getitem__(self, item: slice) -> list[AuditEntry]:
        if not isinstance(item, slice):
            raise TypeError("AuditLog supports slices only")
        start, stop = item.start or 0, item.stop
        if stop is None:
            return list(itertools.islice(self._merged(None), start, None))
        if stop <= start:
            return []
        # Entries before `start` are only counted past (by their order columns), then
        # the page is read from that place on, like a cursor page.
        after = self._key_at(start - 1) if start else None
        if start and after is None:
            return []
        return self.page_after(after, stop - start)[0]

    def page_after(self, cursor: AuditCursor | None, size: int) -> tuple[list[AuditEntry], AuditCursor | None]:
        """`size` entries after `cursor` (None: the newest), and the cursor of the
        next page (None: no more). Each table is read from the cursor on with an
        index range, so page 10,000 costs what page 1 does; the previous versions
        of the page's history rows are fetched in one query per table."""
        streams = []
        for kind in self.kinds:
            qs, _ = _source(kind, self.hidden_report_ids)
            if cursor is not None:
                qs = qs.filter(cursor.older_in(kind))
            streams.append(_keyed(kind, qs[:size + 1]))
        picked = list(itertools.islice(heapq.merge(*streams, key=lambda t: t[0], reverse=True), size + 1))
        more = len(picked) > size
        picked = picked[:size]
        entries = _entries([(kind, record) for _, kind, record in picked])
        return entries, (AuditCursor(*picked[-1][0]) if more else None)

    def __iter__(self) -> Iterator[AuditEntry]:
        return self._merged(None)
