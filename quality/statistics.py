"""Statistics pages' data: gather reads, gold and predictions into arrays, score them, cache the result.

The metric code is Django-free (``quality.metrics`` for raters against gold,
``quality.agreement`` between readers); this module only chooses the data
and shapes the plain-dict result that the dashboard, the CSV export, the
``statistics`` command and (later) the REST API share:

- ``statistics_get(mapping=, gold_version=, split=)``: every figure, cached.
- ``statistics_for_user(user=, ...)``: the same, filtered by role. The ONE place
  where per-reader named figures are filtered: adjudicators and admins see every
  reader; a reader sees only their own row and no pairwise figures. Every figure
  a user sees leaves out the reports whose gold is not released to them
  (``labeling.selectors.report_ids_unreleased_to``: reports they read or hold,
  until their gold is released in a feedback batch), so nothing they are shown
  moves when another reader's read of such a report makes it gold or sends it to
  adjudication.
- ``statistics_tables(stats=)``: the tables the page shows and exports as CSV.

Scope. Figures against gold use the gold reports of the chosen gold-set version
("current" = live gold of unflagged reports, or a frozen version) and split.
Reader agreement with the live gold set and "all" splits uses every unflagged
report with submitted reads, including reports still waiting for adjudication
(leaving them out would hide exactly the disagreements); with a frozen version
or a split it uses the reads of the reports in that scope.

Caching. Results are cached (Django cache alias "statistics" if configured,
else a file cache under VAR_DIR, shared by all web processes) under a key of
(mapping, gold version, split, read basis, hidden reports' digest, resamples,
seed, data stamp); users with nothing hidden (adjudicators and admins who do
not read) share one entry. The data stamp
changes whenever annotations, gold labels, gold-set versions, predictions,
model versions or flags change (counts, latest ids, latest history ids), so
nothing has to remember to invalidate. The page may serve figures up to two
minutes old while labels change (``max_stale_seconds``), saying so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import BaseCache, caches
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.roles import Role
from accounts.selectors import user_roles
from api.errors import DomainError
from labeling.models import Annotation, GoldLabel, GoldSetMembership, GoldSetVersion, MachinePrediction, ModelVersion, Report
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import report_ids_unreleased_to
from quality import agreement
from quality.metrics import MAPPINGS, MISSING, Bootstrap, label_codes, label_mapping_get, scores_against_reference

SCHEMA_VERSION = 2  # 2: pre-fill acceptance, labelers on common reports, No Finding positive-only
SPLITS: tuple[str, ...] = ("all", "validation", "train")
CURRENT_GOLD = "current"
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20240601  # fixed: the same data always gives the same intervals
CONFIDENCE = 0.95
READ_BASES = ("all", "settled")


class StatisticsQueryInvalid(DomainError, ValueError):
    """The user asked for an unknown mapping, split, gold-set version or read basis (400).
    Only this is the user's bad request: any other error is a bug and surfaces as one."""

    code = "invalid_query"


@dataclass(frozen=True)
class StatisticsQuery:
    """Which figures: label mapping, gold-set version ("current" or a frozen version's name), split."""

    mapping: str = "full"
    gold_version: str = CURRENT_GOLD
    split: str = "all"
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    # Which reads the agreement between readers is computed on: "all" submitted
    # reads, or "settled" ones (of gold reports only; see statistics_for_user).
    reads: str = "all"
    # Reports left out of every figure (reads, gold, labelers, pre-fill): those
    # whose gold is not released to the user the figures are for
    # (`statistics_for_user`). Part of the cache key as a digest.
    hidden_report_ids: frozenset[int] = frozenset()

    @property
    def hidden_digest(self) -> str:
        """A short digest of `hidden_report_ids` for the cache key ("-" when none)."""
        if not self.hidden_report_ids:
            return "-"
        return hashlib.sha256(",".join(map(str, sorted(self.hidden_report_ids))).encode()).hexdigest()[:16]

    def __post_init__(self) -> None:
        if self.reads not in READ_BASES:
            raise StatisticsQueryInvalid(f"unknown read basis: {self.reads!r}")
        try:
            label_mapping_get(self.mapping)
        except ValueError as exc:
            raise StatisticsQueryInvalid(str(exc)) from None
        if self.split not in SPLITS:
            raise StatisticsQueryInvalid(f"unknown split: {self.split!r} (expected one of {', '.join(SPLITS)})")
        if self.gold_version != CURRENT_GOLD and not GoldSetVersion.objects.filter(name=self.gold_version).exists():
            raise StatisticsQueryInvalid(f"unknown gold-set version: {self.gold_version!r}")


# --------------------------------------------------------------------------- cache


def _cache() -> BaseCache:
    """The `statistics` cache from settings (a file cache under var/ by default)."""
    return caches["statistics"]


def statistics_data_stamp() -> str:
    """A short hash that changes whenever data behind the figures changes; index-only queries (~10 ms at 200k reports).

    Inserts and deletes show in counts and latest ids; edits of annotations and
    gold labels (label changes, submission, superseding) in their history tables'
    latest id (django-simple-history writes a row per save and delete). A bulk
    ``.update()`` of labels that bypasses history would go unnoticed: services
    never do that (writes go through ``save()``).
    """
    parts = [
        Annotation.objects.aggregate(n=Count("id"), last=Max("id")),
        Annotation.history.model.objects.aggregate(last=Max("history_id")),  # type: ignore[attr-defined]
        GoldLabel.objects.aggregate(n=Count("id"), last=Max("id"), cur=Count("id", filter=Q(is_current=True))),
        GoldLabel.history.model.objects.aggregate(last=Max("history_id")),  # type: ignore[attr-defined]
        GoldSetMembership.objects.aggregate(n=Count("id"), last=Max("id")),
        # Predictions are only ever added (deleted with their report, which changes gold/annotation counts).
        MachinePrediction.objects.aggregate(last=Max("id")),
        ModelVersion.objects.aggregate(n=Count("id"), last=Max("id"), active=Max("id", filter=Q(is_active=True))),
        {"flagged": Report.objects.filter(is_flagged=True).count(), "withdrawn": Report.objects.filter(is_withdrawn=True).count()},
        get_user_model().objects.aggregate(n=Count("id"), last=Max("id")),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _cache_key(query: StatisticsQuery, stamp: str) -> str:
    gold = hashlib.sha256(query.gold_version.encode()).hexdigest()[:12]
    return (f"chexgold:statistics:v{SCHEMA_VERSION}:{query.mapping}:{gold}:{query.split}:{query.reads}:"
            f"{query.hidden_digest}:{query.n_resamples}:{query.seed}:{stamp}")


def statistics_cache_clear() -> None:
    _cache().clear()


# --------------------------------------------------------------------------- gathering


def _gold_rows(query: StatisticsQuery) -> list[tuple[int, dict[str, str]]]:
    hidden = query.hidden_report_ids
    if query.gold_version == CURRENT_GOLD:
        qs = GoldLabel.objects.filter(is_current=True, report__is_flagged=False, report__is_withdrawn=False)
        if query.split != "all":
            qs = qs.filter(report__gold_split=query.split)
        rows: Any = qs.order_by("report_id").values_list("report_id", "labels")
    else:
        ms = GoldSetMembership.objects.filter(version__name=query.gold_version)
        if query.split != "all":
            ms = ms.filter(report__gold_split=query.split)
        rows = ms.order_by("report_id").values_list("report_id", "gold_label__labels")
    return [(rid, labels) for rid, labels in rows if rid not in hidden]


def _gold_report_ids_subquery(query: StatisticsQuery) -> Any:
    if query.gold_version == CURRENT_GOLD:
        qs = GoldLabel.objects.filter(is_current=True, report__is_flagged=False, report__is_withdrawn=False)
        if query.split != "all":
            qs = qs.filter(report__gold_split=query.split)
        return qs.values("report_id")
    ms = GoldSetMembership.objects.filter(version__name=query.gold_version)
    if query.split != "all":
        ms = ms.filter(report__gold_split=query.split)
    return ms.values("report_id")


def _without_hidden(qs: Any, query: StatisticsQuery) -> Any:
    """`qs` (rows with a report_id) less the reports hidden from the user the figures are for."""
    return qs.exclude(report_id__in=sorted(query.hidden_report_ids)) if query.hidden_report_ids else qs


def _submitted_reads(query: StatisticsQuery) -> Any:
    # Calibration reads are measurements of readers, not reads of the work: never in agreement, acceptance or progress.
    qs = Annotation.objects.filter(status=Annotation.Status.SUBMITTED, report__is_flagged=False, report__is_withdrawn=False, is_calibration=False)
    if query.reads == "settled" or not (query.gold_version == CURRENT_GOLD and query.split == "all"):
        qs = qs.filter(report_id__in=_gold_report_ids_subquery(query))
    return _without_hidden(qs, query)


def _read_rows(query: StatisticsQuery) -> list[tuple[int, int, dict[str, str]]]:
    return list(_submitted_reads(query).order_by("report_id", "reader_id").values_list("report_id", "reader_id", "labels"))


def prefill_acceptance(query: StatisticsQuery) -> dict[str, Any]:
    """How readers treated the pre-fill, per source and observation: offered
    values kept or changed (an automation-bias indicator: a source whose values
    are almost never changed may be accepted unread), and the rows left contested."""
    counts: dict[tuple[str, str], list[int]] = {}
    contested = rows = 0
    reads = _submitted_reads(query).exclude(prefill_outcome=None).values_list("prefill", "prefill_outcome")
    for prefill, outcome in reads.iterator(chunk_size=5000):
        for name in OBSERVATION_NAMES:
            cell, what = (prefill or {}).get(name) or {}, (outcome or {}).get(name)
            if what is None:
                continue
            rows += 1
            contested += bool(cell.get("contested"))
            if what in ("kept", "changed"):
                source = "model" if cell.get("source") == "model" else "rules"
                tally = counts.setdefault((source, name), [0, 0])
                tally[0 if what == "kept" else 1] += 1
    by_source = [
        {"source": source, "observation": name, "offered": kept + changed, "kept": kept, "changed": changed,
         "acceptance": kept / (kept + changed) if kept + changed else None}
        for (source, name), (kept, changed) in sorted(counts.items(), key=lambda kv: (kv[0][0], OBSERVATION_NAMES.index(kv[0][1])))
    ]
    return {"rows": rows, "contested_rows": contested, "contested_share": contested / rows if rows else None, "by_source": by_source}


@dataclass
class _Labeler:
    key: str
    kind: str  # "rules" | "model" | "external"
    name: str
    version: str
    created_at: str | None = None
    is_active: bool = False
    rows: dict[int, dict[str, str]] = field(default_factory=dict)


def _labelers(query: StatisticsQuery) -> list[_Labeler]:
    models = {m.name: m for m in ModelVersion.objects.all()}
    found: dict[tuple[str, str], _Labeler] = {}
    preds = _without_hidden(MachinePrediction.objects.filter(report_id__in=_gold_report_ids_subquery(query)), query).values_list(
        "report_id", "source", "source_version", "labels"
    )
    for report_id, source, version, labels in preds.iterator(chunk_size=5000):
        lab = found.get((source, version))
        if lab is None:
            if source == MachinePrediction.Source.RULES:
                lab = _Labeler(key=f"rules-{version}", kind="rules", name=f"Rule labeler {version}", version=version)
            elif source == MachinePrediction.Source.EXTERNAL:
                # Another labeler's output imported from a file (import_labels --as predictions): scored
                # beside ours on the gold reports it labelled, under its own name.
                lab = _Labeler(key=f"external-{version}", kind="external", name=f"External labeler {version}", version=version)
            else:
                mv = models.get(version)
                lab = _Labeler(
                    key=f"model-{version}", kind="model", name=f"Model {version}", version=version,
                    created_at=mv.created_at.isoformat() if mv else None, is_active=bool(mv and mv.is_active),
                )
            found[(source, version)] = lab
        lab.rows[report_id] = labels
    # Rules first, then models oldest to newest (the trend's order), then external labelers by name.
    order = {"rules": 0, "model": 1, "external": 2}
    return sorted(found.values(), key=lambda lab: (order.get(lab.kind, 3), lab.created_at or "", lab.version))


# --------------------------------------------------------------------------- computing


def statistics_compute(*, query: StatisticsQuery) -> dict[str, Any]:
    """Every figure for `query`, unfiltered (all readers named) and uncached. JSON-ready."""
    started = time.perf_counter()
    mapping = label_mapping_get(query.mapping)
    gold_rows = _gold_rows(query)
    gold_ids = np.array([rid for rid, _ in gold_rows], dtype=np.int64)
    gold_index = {int(rid): i for i, rid in enumerate(gold_ids)}
    gold = label_codes((labels for _, labels in gold_rows), mapping)
    gold_boot = Bootstrap(len(gold_ids), n_resamples=query.n_resamples, seed=query.seed)

    # Reads: (reports, readers, 14) codes, MISSING where a reader did not read.
    reads = _read_rows(query)
    read_report_ids = sorted({rid for rid, _, _ in reads})
    reader_ids = sorted({uid for _, uid, _ in reads})
    r_index = {rid: i for i, rid in enumerate(read_report_ids)}
    u_index = {uid: j for j, uid in enumerate(reader_ids)}
    ratings = np.full((len(read_report_ids), len(reader_ids), len(OBSERVATION_NAMES)), MISSING, dtype=np.int8)
    if reads:
        codes = label_codes((labels for _, _, labels in reads), mapping)
        ri = np.array([r_index[rid] for rid, _, _ in reads])
        ui = np.array([u_index[uid] for _, uid, _ in reads])
        ratings[ri, ui, :] = codes
    usernames = dict(get_user_model().objects.filter(id__in=reader_ids).values_list("id", "username"))
    reader_refs: list[dict[str, Any]] = [{"id": uid, "name": usernames.get(uid, f"user {uid}")} for uid in reader_ids]

    read_boot = Bootstrap(len(read_report_ids), n_resamples=query.n_resamples, seed=query.seed)
    agree = agreement.reader_agreement(ratings, mapping=mapping, readers=reader_refs, bootstrap=read_boot, confidence=CONFIDENCE)
    pairs = [
        {"reader_a_id": p["reader_a"]["id"], "reader_a": p["reader_a"]["name"], "reader_b_id": p["reader_b"]["id"],
         "reader_b": p["reader_b"]["name"], "n": p["n"], "kappa": p["kappa"], "observations": p["observations"]}
        for p in agree.pop("pairs")
    ]

    # Each reader against gold, on the gold reports they read.
    readers = []
    if len(gold_ids) and reads:
        in_gold = [(gold_index[rid], u_index[uid], k) for k, (rid, uid, _) in enumerate(reads) if rid in gold_index]
        for ref in reader_refs:
            j = u_index[ref["id"]]
            mine = [(gi, k) for gi, uj, k in in_gold if uj == j]
            if not mine:
                continue
            items = np.array([gi for gi, _ in mine], dtype=np.int64)
            rater = codes[[k for _, k in mine]]
            scores = scores_against_reference(gold[items], rater, mapping=mapping, bootstrap=gold_boot, items=items, confidence=CONFIDENCE)
            readers.append({"reader_id": ref["id"], "reader": ref["name"], **scores})

    labelers = []
    found = _labelers(query)
    # Side-by-side figures on the same reports: the rules and the active model are
    # scored on the gold reports that both labelled (a model still re-labelling is
    # not compared on a different subset); older versions on the gold reports they
    # labelled. Each says how many gold reports it lacks.
    compared = [lab for lab in found if lab.kind == "rules" or lab.is_active]
    common = set(gold_index)
    for lab in compared:
        common &= set(lab.rows)
    for lab in found:
        on = common if lab in compared else set(gold_index) & set(lab.rows)
        items = np.array(sorted(gold_index[rid] for rid in on), dtype=np.int64)
        pred = label_codes((lab.rows[int(gold_ids[i])] for i in items), mapping)
        scores = scores_against_reference(gold[items], pred, mapping=mapping, bootstrap=gold_boot, items=items, confidence=CONFIDENCE)
        labelers.append(
            {"key": lab.key, "kind": lab.kind, "name": lab.name, "version": lab.version, "created_at": lab.created_at,
             "is_active": lab.is_active, "common_set": lab in compared,
             "missing": len(gold_index) - len(set(gold_index) & set(lab.rows)), **scores}
        )
    trend = [
        {"key": lab["key"], "name": lab["name"], "created_at": lab["created_at"], "mean_weighted_f1": lab["mean_weighted_f1"]}
        for lab in labelers if lab["kind"] == "model"
    ]
    return {
        "schema": SCHEMA_VERSION,
        "query": {"mapping": query.mapping, "gold_version": query.gold_version, "split": query.split, "reads": query.reads,
                  "n_resamples": query.n_resamples, "seed": query.seed, "confidence": CONFIDENCE},
        "mapping": mapping.as_dict(),
        "observations": list(OBSERVATION_NAMES),
        "counts": {"gold_reports": len(gold_ids), "read_reports": len(read_report_ids), "reads": len(reads),
                   "readers": len(reader_ids), "labelers": len(labelers)},
        "agreement": agree,
        "pairs": pairs,
        "readers": readers,
        "labelers": labelers,
        "trend": trend,
        "prefill": prefill_acceptance(query),
        "computed_at": timezone.now().isoformat(),
        "compute_seconds": round(time.perf_counter() - started, 3),
        "visibility": {"all_readers": True},
    }


def statistics_get(
    *, mapping: str = "full", gold_version: str = CURRENT_GOLD, split: str = "all",
    n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, max_stale_seconds: float = 0, reads: str = "all",
    hidden_report_ids: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """Every figure (unfiltered), from the cache when the data has not changed since it was computed.

    With ``max_stale_seconds`` > 0, figures computed on older data are served
    when they were computed less than that many seconds ago (marked
    ``"stale": True``): while readers are labelling the data changes with every
    submitted read, and the dashboard should not recompute on every view. 0 (the
    default) always returns figures of the current data.

    ``hidden_report_ids``: reports left out of every figure (see
    ``statistics_for_user``); part of the cache key as a digest.

    Raises StatisticsQueryInvalid for an unknown mapping, split or gold-set version.
    Callers that show figures to a user must go through ``statistics_for_user``.
    """
    query = StatisticsQuery(mapping=mapping, gold_version=gold_version, split=split, n_resamples=n_resamples, seed=seed, reads=reads,
                            hidden_report_ids=frozenset(hidden_report_ids))
    stamp = statistics_data_stamp()
    key = _cache_key(query, stamp)
    latest_key = _cache_key(query, "latest")
    cache = _cache()
    stats = cache.get(key)
    if stats is not None:
        return {**stats, "from_cache": True, "stale": False}
    if max_stale_seconds > 0:
        latest = cache.get(latest_key)
        if latest is not None and time.time() - latest.get("computed_ts", 0) < max_stale_seconds:
            return {**latest, "from_cache": True, "stale": True}
    stats = statistics_compute(query=query)
    stats["data_stamp"] = stamp
    stats["computed_ts"] = time.time()
    cache.set_many({key: stats, latest_key: stats}, None)
    return {**stats, "from_cache": False, "stale": False}


def statistics_read_basis_for(*, user: AbstractBaseUser | AnonymousUser) -> str | None:
    """Which reads `user`'s agreement figures may be computed on (None: no
    agreement figures at all). See `statistics_visible_to`."""
    roles = user_roles(user=user)
    if not roles & {Role.ADJUDICATOR, Role.ADMIN}:
        return None
    return "settled" if Role.READER in roles else "all"


def statistics_visible_to(*, user: AbstractBaseUser | AnonymousUser, stats: dict[str, Any]) -> dict[str, Any]:
    """Filter the figures by role. THE access rule for statistics, so that a
    reader who compares any figure before and after one report changes (before
    that report's gold is released to them) learns nothing about another
    reader's labels. `stats` must have been computed without the reports whose
    gold is not released to `user` (`statistics_for_user` does that); then:

    - readers (without another role): their own figures against gold only (gold
      reports, whose labels they are shown anyway), and the labelers against
      gold; no agreement between readers, no pairs, no read counts;
    - adjudicators and admins: every reader's row and every pair, and the
      agreement between readers;
    - adjudicators and admins who also read: the same, but computed on settled
      reads only (reads of gold reports; `statistics_for_user` asks for
      `reads="settled"`), so a report moves no agreement figure before it is gold
      (nor, being left out until released, before its gold is released to them).
    """
    basis = statistics_read_basis_for(user=user)
    if basis is not None:
        return {**stats, "visibility": {"all_readers": True, "agreement": True, "reads": stats["query"].get("reads", "all")}}
    uid = getattr(user, "id", None)
    counts = stats["counts"]
    return {
        **stats,
        "agreement": None,
        "prefill": None,  # what other readers kept or changed is theirs
        "readers": [r for r in stats["readers"] if uid is not None and r["reader_id"] == uid],
        "pairs": [],
        "counts": {"gold_reports": counts["gold_reports"], "labelers": counts["labelers"]},
        "visibility": {"all_readers": False, "agreement": False, "reads": None},
    }


def statistics_for_user(
    *, user: AbstractBaseUser | AnonymousUser, mapping: str = "full", gold_version: str = CURRENT_GOLD, split: str = "all",
    max_stale_seconds: float = 0,
) -> dict[str, Any]:
    """The API-ready selector: cached figures for the query, filtered for `user` (plain dicts, JSON-ready).

    Raises StatisticsQueryInvalid for an unknown mapping, split or gold-set version (the API answers 400).
    """
    basis = statistics_read_basis_for(user=user) or "settled"
    stats = statistics_get(mapping=mapping, gold_version=gold_version, split=split, max_stale_seconds=max_stale_seconds, reads=basis,
                           hidden_report_ids=statistics_hidden_report_ids_for(user=user))
    return statistics_visible_to(user=user, stats=stats)


def statistics_hidden_report_ids_for(*, user: AbstractBaseUser | AnonymousUser) -> frozenset[int]:
    """Reports left out of every figure `user` is shown: the ones they read or
    hold whose gold is not released to them (`labeling.selectors.report_ids_unreleased_to`,
    the one release rule; empty for adjudicators and admins who do not read).

    Calibration reads and reservations are not counted here: calibration reads
    are in no figure, and a calibration report's gold was in the figures before it
    was served, so hiding it on handing it out would tell the reader it is one."""
    return frozenset(report_ids_unreleased_to(user=user, calibration=False).values_list("id", flat=True))


def statistics_choices() -> dict[str, Any]:
    """Options for the page and API: mappings, gold-set versions (newest first), splits."""
    versions = list(GoldSetVersion.objects.order_by("-created_at").values_list("name", flat=True))
    return {
        "mappings": [{"name": m.name, "title": m.title} for m in MAPPINGS.values()],
        "gold_versions": [CURRENT_GOLD, *versions],
        "splits": list(SPLITS),
    }


# --------------------------------------------------------------------------- tables (page + CSV)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | int | float | interval


@dataclass(frozen=True)
class Table:
    slug: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    caption: str = ""


def _when(iso: str | None) -> str:
    """"2024-06-01 12:30" (UTC) from an ISO timestamp; empty when unknown."""
    return (iso or "")[:16].replace("T", " ")


def _iv(d: dict[str, Any] | None) -> dict[str, Any]:
    return d or {"value": None, "low": None, "high": None}


def statistics_tables(*, stats: dict[str, Any]) -> list[Table]:
    """The tables of the page, in page order; every one is downloadable as CSV (``table_csv``)."""
    tables: list[Table] = []
    cols = [Column("Observation"), Column("Reports", "int")] + [Column(title, "interval") for _, title in agreement.STATISTICS]
    agree = stats["agreement"]
    if agree is not None:
        rows = [[o["observation"], o["n"], *(_iv(o[k]) for k, _ in agreement.STATISTICS)] for o in agree["observations"]]
        rows.append(["All observations (pooled)", agree["overall"]["n"], *(_iv(agree["overall"][k]) for k, _ in agreement.STATISTICS)])
        settled = stats["query"].get("reads") == "settled"
        tables.append(Table("agreement", "Agreement between readers", cols, rows,
                            f"{agree['n_readers']} readers; reports with at least two reads"
                            + ("; gold reports only (you also read reports)" if settled else "")))

    if stats["pairs"]:
        cols = [Column("Reader A"), Column("Reader B"), Column("Reports", "int"), Column("κ (all observations)", "interval")]
        cols += [Column(f"κ {name}", "interval") for name in stats["observations"]]
        rows = [[p["reader_a"], p["reader_b"], p["n"], _iv(p["kappa"]), *(_iv(o["kappa"]) for o in p["observations"])]
                for p in stats["pairs"]]
        tables.append(Table("pairs", "Cohen's κ for each pair of readers", cols, rows))

    if stats["readers"]:
        cols = [Column("Reader"), Column("Observation"), Column("Reports", "int"), Column("Sensitivity", "interval"),
                Column("Specificity", "interval"), Column("Agreement with gold", "interval"), Column("κ with gold", "interval")]
        rows = []
        for r in stats["readers"]:
            o = r["overall"]
            rows.append([r["reader"], "All observations (pooled)", r["n"], _iv(o["sensitivity"]), _iv(o["specificity"]),
                         _iv(o["agreement"]), _iv(o["kappa"])])
            for ob in r["observations"]:
                rows.append([r["reader"], ob["observation"], ob["n"], _iv(ob["sensitivity"]), _iv(ob["specificity"]),
                             _iv(ob["agreement"]), _iv(ob["kappa"])])
        tables.append(Table("readers", "Readers against gold", cols, rows, "Positive against every other category of the mapping"))

    labelers = stats["labelers"]
    if labelers:
        cols = [Column("Labeler"), Column("Kind"), Column("Created"), Column("Active"), Column("Gold reports", "int"),
                Column("Gold reports without its labels", "int"),
                Column("Mean weighted F1", "interval"), Column("κ (all observations)", "interval")]
        rows = [[lab["name"], lab["kind"], _when(lab["created_at"]), "yes" if lab["is_active"] else "", lab["n"], lab.get("missing", 0),
                 _iv(lab["mean_weighted_f1"]), _iv(lab["overall"]["kappa"])] for lab in labelers]
        tables.append(Table("labelers", "Labelers against gold", cols, rows,
                            "Headline: mean weighted F1 over the 14 observations (No Finding: positive class only, as CheXbert). "
                            "The rules and the active model are scored on the same gold reports (those both labelled)"))

        cols = [Column("Observation")] + [Column(lab["name"], "interval") for lab in labelers]
        rows = [[name, *(_iv(lab["observations"][j]["weighted_f1"]) for lab in labelers)]
                for j, name in enumerate(stats["observations"])]
        tables.append(Table("labeler-weighted-f1", "Weighted F1 per observation", cols, rows))

        cats = [stats["mapping"]["categories"][c] for c in range(len(stats["mapping"]["categories"]))]
        scored = list(labelers[0]["observations"][0]["classes"])
        cols = [Column("Labeler"), Column("Observation"), Column("Reports", "int"), Column("Weighted F1", "interval"),
                Column("κ", "interval")]
        for c in scored:
            cols += [Column(f"Precision {c}", "interval"), Column(f"Recall {c}", "interval"), Column(f"F1 {c}", "interval"),
                     Column(f"Support {c}", "int")]
        rows = []
        for lab in labelers:
            for ob in lab["observations"]:
                row = [lab["name"], ob["observation"], ob["n"], _iv(ob["weighted_f1"]), _iv(ob["kappa"])]
                for c in scored:
                    k = ob["classes"][c]
                    row += [_iv(k["precision"]), _iv(k["recall"]), _iv(k["f1"]), k["support"]]
                rows.append(row)
        tables.append(Table("labeler-detail", "Precision, recall and F1 per class", cols, rows))

        cols = [Column("Labeler"), Column("Observation"), Column("Gold"), Column("Predicted"), Column("Reports", "int")]
        rows = [[lab["name"], ob["observation"], g, p, ob["confusion"][i][j]]
                for lab in labelers for ob in lab["observations"]
                for i, g in enumerate(cats) for j, p in enumerate(cats)]
        tables.append(Table("confusion", "Confusion matrices", cols, rows))

    prefill = stats.get("prefill")
    if prefill and prefill["by_source"]:
        cols = [Column("Pre-filled by"), Column("Observation"), Column("Values offered", "int"), Column("Kept", "int"),
                Column("Changed", "int"), Column("Acceptance", "float")]
        rows = [[p["source"], p["observation"], p["offered"], p["kept"], p["changed"], p["acceptance"]] for p in prefill["by_source"]]
        share = prefill["contested_share"]
        tables.append(Table("prefill", "Pre-fill accepted and corrected", cols, rows,
                            f"{prefill['contested_rows']} of {prefill['rows']} rows were contested (not pre-filled)"
                            + (f", {share:.1%}" if share is not None else "")
                            + "; acceptance near 100 % for a source with known errors is a sign of automation bias"))

    if stats["trend"]:
        cols = [Column("Model version"), Column("Created"), Column("Mean weighted F1", "interval")]
        rows = [[t["name"], _when(t["created_at"]), _iv(t["mean_weighted_f1"])] for t in stats["trend"]]
        tables.append(Table("trend", "Model versions over time", cols, rows))
    return tables


def _num(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, ".12g")


def table_csv(table: Table) -> str:
    """CSV text of a table: an interval column becomes three columns (value, low, high)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    head: list[str] = []
    for c in table.columns:
        head += [c.name, f"{c.name} 95% CI low", f"{c.name} 95% CI high"] if c.kind == "interval" else [c.name]
    writer.writerow(head)
    for row in table.rows:
        out: list[Any] = []
        for c, v in zip(table.columns, row, strict=True):
            if c.kind == "interval":
                out += [_num(v["value"]), _num(v["low"]), _num(v["high"])]
            elif c.kind == "float":
                out.append(_num(v))
            else:
                out.append(v)
        writer.writerow(out)
    return buf.getvalue()


def table_display_rows(table: Table) -> list[list[dict[str, str]]]:
    """Rows as display cells ``{"text", "title", "num"}``: "0.812 (0.771–0.850)" for intervals, "–" if undefined."""
    out = []
    for row in table.rows:
        cells = []
        for c, v in zip(table.columns, row, strict=True):
            if c.kind == "interval":
                if v["value"] is None:
                    cells.append({"text": "–", "title": "undefined", "num": "1"})
                elif v["low"] is None:
                    cells.append({"text": f"{v['value']:.3f}", "title": "", "num": "1"})
                else:
                    cells.append({"text": f"{v['value']:.3f}", "ci": f"{v['low']:.3f}–{v['high']:.3f}",
                                  "title": f"95% CI {v['low']:.3f} to {v['high']:.3f}", "num": "1"})
            elif c.kind in ("int", "float"):
                cells.append({"text": "–" if v is None else (str(v) if c.kind == "int" else f"{v:.3f}"), "title": "", "num": "1"})
            else:
                cells.append({"text": str(v), "title": "", "num": ""})
        out.append(cells)
    return out
