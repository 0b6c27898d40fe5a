"""Reads for the review UI. Every page goes through these.

Blinding (STYLE.md rule 4): a reader only ever gets their own annotation of a
report (`annotation_of_reader`, `annotation_visible_get`, `report_for_reader`),
and the gold labels of a report only once it is gold and they submitted a read
of it (`gold_feedback_for_reader`). Other readers' reads are only returned by
`adjudication_view_get`, which refuses anyone without the adjudicator role and
anyone who read the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.models import Flag, GuidelineVersion, Reread, Reservation, ReviewSettings
from annotator.text_offsets import utf16_length, utf16_offset_converter
from labeling.models import (
    Annotation,
    GoldLabel,
    GoldSetMembership,
    GoldSetVersion,
    MachinePrediction,
    Report,
    RuntimeSettings,
)
from labeling.observations import OBSERVATION_NAMES, LabelDict, Observation
from labeling.roles import Role
from labeling.selectors import active_model_version_get, runtime_settings_get, user_roles

SUBMITTED = Annotation.Status.SUBMITTED


# --- settings ----------------------------------------------------------------
def review_settings_get() -> ReviewSettings:
    row = ReviewSettings.objects.filter(singleton=1).first()
    if row is None:
        row, _ = ReviewSettings.objects.get_or_create(singleton=1)
    return row


# --- flags (other apps: exclude these from gold and training) --------------
def _flagged_q() -> Q:
    # Open flags and flags resolved as "exclude" keep a report out.
    return Q(resolution__in=[Flag.Resolution.OPEN, Flag.Resolution.EXCLUDE])


def flagged_report_ids() -> set[int]:
    """Ids of reports that must stay out of queues, gold and training."""
    return set(Report.objects.filter(is_flagged=True).values_list("id", flat=True))


def flagged_report_ids_subquery() -> QuerySet[Report]:
    """The same set as a subquery: ``Report.objects.exclude(id__in=flagged_report_ids_subquery())``."""
    return Report.objects.filter(is_flagged=True).values("id")


def unflagged_reports(qs: QuerySet[Report] | None = None) -> QuerySet[Report]:
    """`qs` (default: all reports) without flagged reports."""
    base = Report.objects.all() if qs is None else qs
    return base.filter(is_flagged=False)


def report_is_flagged(*, report_id: int) -> bool:
    return Report.objects.filter(id=report_id, is_flagged=True).exists()


def report_flag_state(*, report_id: int) -> bool:
    """Whether the report's flags keep it out (an open flag, or one resolved as
    "exclude"); the flag services store this on `Report.is_flagged`."""
    return Flag.objects.filter(_flagged_q(), report_id=report_id).exists()


def flags_open() -> QuerySet[Flag]:
    return Flag.objects.filter(resolution=Flag.Resolution.OPEN).select_related("report", "raised_by").order_by("created_at")


def flags_recently_resolved(*, limit: int = 20) -> QuerySet[Flag]:
    return Flag.objects.exclude(resolution=Flag.Resolution.OPEN).select_related("report", "raised_by", "resolved_by").order_by(
        "-resolved_at"
    )[:limit]


# --- assignment ----------------------------------------------------------------
def _live_reservations(now: dt.datetime) -> QuerySet[Reservation]:
    return Reservation.objects.filter(state=Reservation.State.ACTIVE, expires_at__gt=now)


def report_read_load(*, report_id: int, now: dt.datetime | None = None, exclude_reader: AbstractBaseUser | None = None) -> int:
    """Submitted reads + live reservations of a report: what counts toward k."""
    now = now or timezone.now()
    submitted = Annotation.objects.filter(report_id=report_id, status=SUBMITTED)
    live = _live_reservations(now).filter(report_id=report_id)
    if exclude_reader is not None:
        submitted = submitted.exclude(reader=exclude_reader)
        live = live.exclude(reader=exclude_reader)
    # A reader's reservation is deleted when they submit, so nothing counts twice.
    return submitted.count() + live.count()


def _count_subquery(qs: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(qs.order_by().values("report_id").annotate(c=Count("id")).values("c")[:1], output_field=IntegerField()),
        Value(0),
    )


def assignable_reports(*, reader: AbstractBaseUser, now: dt.datetime | None = None, order: str | None = None) -> QuerySet[Report]:
    """Reports `reader` may be handed next, in queue order.

    Excludes gold and flagged reports, reports with k reads (submitted + live
    reservations), and reports the reader already read, holds or skipped."""
    now = now or timezone.now()
    settings_row = runtime_settings_get()
    k = settings_row.reads_per_report
    order = order or settings_row.queue_order
    load = _count_subquery(Annotation.objects.filter(report_id=OuterRef("pk"), status=SUBMITTED)) + _count_subquery(
        _live_reservations(now).filter(report_id=OuterRef("pk"))
    )
    qs = (
        unflagged_reports()
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .exclude(Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, state=Reservation.State.SKIPPED)))
        .exclude(Exists(_live_reservations(now).filter(report_id=OuterRef("pk"), reader=reader)))
    )
    # Never the same report twice here; deliberate re-reads are handed out by
    # `services.reread_next_assign` and stored apart (annotator.Reread).
    qs = qs.exclude(Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader, status=SUBMITTED)))
    qs = qs.alias(load=load).filter(load__lt=k)
    return _ordered(qs, order)


def _ordered(qs: QuerySet[Report], order: str) -> QuerySet[Report]:
    if order == RuntimeSettings.QueueOrder.SEQUENTIAL:
        return qs.order_by("id")
    if order == RuntimeSettings.QueueOrder.RANDOM:
        return qs.order_by("?")
    # Priority orders: an inner join on ReportPriority (every report has a row
    # after `report_priorities_refresh`) lets the database walk the priority
    # index in order and stop at the first free report instead of sorting all.
    qs = qs.filter(priority__is_open=True, priority__disagreement__gte=0)
    if order == RuntimeSettings.QueueOrder.UNCERTAINTY:
        return qs.order_by("priority__confidence", "priority__report_id")
    return qs.order_by("-priority__disagreement", "priority__confidence", "priority__report_id")


def reservation_live_of_reader(*, reader: AbstractBaseUser, now: dt.datetime | None = None) -> Reservation | None:
    """The reader's oldest live reservation of a report still to read (to resume)."""
    now = now or timezone.now()
    return (
        _live_reservations(now)
        .filter(reader=reader)
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("report_id"), reader=reader, status=SUBMITTED)))
        .filter(report__is_flagged=False)
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("report_id"), is_current=True)))
        .order_by("created_at", "id")
        .first()
    )


@dataclass(frozen=True)
class QueueSummary:
    assigned: int  # reports reserved for the reader and not yet submitted
    done: int  # reads submitted
    remaining: int  # reports the reader could still be given
    recent: list[dict[str, object]] = field(default_factory=list)


def reader_queue_summary(*, reader: AbstractBaseUser, recent: int = 10) -> QueueSummary:
    now = timezone.now()
    done = Annotation.objects.filter(reader=reader, status=SUBMITTED)
    assigned = (
        _live_reservations(now)
        .filter(reader=reader)
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("report_id"), reader=reader, status=SUBMITTED)))
        .count()
    )
    rows = list(
        done.order_by("-submitted_at").values("report_id", "report__external_id", "submitted_at")[:recent]
    )
    gold_ids = set(GoldLabel.objects.filter(report_id__in=[r["report_id"] for r in rows], is_current=True).values_list("report_id", flat=True))
    for r in rows:
        r["is_gold"] = r["report_id"] in gold_ids
    return QueueSummary(
        assigned=assigned,
        done=done.count(),
        remaining=assignable_reports(reader=reader, now=now, order="sequential").count(),
        recent=rows,
    )


# --- blinding: what a reader may see ------------------------------------------
def report_for_reader(*, reader: AbstractBaseUser, report_id: int) -> Report | None:
    """The report if `reader` was handed it (reservation) or has read it; else None.

    Flagged reports are hidden from review."""
    visible = Report.objects.filter(id=report_id).filter(
        Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, state=Reservation.State.ACTIVE))
        | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader))
    )
    report = visible.first()
    if report is None or report_is_flagged(report_id=report.id):
        return None
    return report


def annotation_of_reader(*, reader: AbstractBaseUser, report: Report) -> Annotation | None:
    """The reader's own annotation of `report` (never anyone else's)."""
    return Annotation.objects.filter(report=report, reader=reader).first()


def annotation_visible_get(*, user: AbstractBaseUser, annotation_id: int) -> Annotation | None:
    """An annotation by id, only for its own reader. Callers answer 404 on None."""
    return Annotation.objects.filter(id=annotation_id, reader=user).first()


def gold_feedback_for_reader(*, reader: AbstractBaseUser, report: Report) -> GoldLabel | None:
    """The current gold labels, only once the report is gold and `reader` submitted a read."""
    if not Annotation.objects.filter(report=report, reader=reader, status=SUBMITTED).exists():
        return None
    return GoldLabel.objects.filter(report=report, is_current=True).first()


# --- machine labels, evidence, guidelines ---------------------------------------
@dataclass(frozen=True)
class MachineLabels:
    rules: LabelDict | None
    rules_version: str | None
    model: LabelDict | None
    model_version: str | None
    probabilities: dict[str, dict[str, float]] | None
    evidence: dict[str, list[dict[str, object]]]  # JS (UTF-16) offsets

    @property
    def prefill(self) -> LabelDict | None:
        return self.model or self.rules


def machine_labels_for_report(*, report: Report) -> MachineLabels:
    """Rule labels (latest rule version for this report), the active model's
    labels, and rule evidence with offsets converted for JavaScript."""
    rules = (
        MachinePrediction.objects.filter(report=report, source=MachinePrediction.Source.RULES)
        .order_by("-id")
        .values("labels", "source_version", "evidence")
        .first()
    )
    model_version = active_model_version_get()
    model = None
    if model_version is not None:
        model = (
            MachinePrediction.objects.filter(report=report, model_version=model_version)
            .values("labels", "probabilities", "evidence")
            .first()
        )
    evidence_raw = (rules or {}).get("evidence") or {}
    if model and model.get("evidence"):
        evidence_raw = {**evidence_raw, **{k: v for k, v in model["evidence"].items() if v}}
    return MachineLabels(
        rules=rules["labels"] if rules else None,
        rules_version=rules["source_version"] if rules else None,
        model=model["labels"] if model else None,
        model_version=model_version.name if model and model_version else None,
        probabilities=model.get("probabilities") if model else None,
        evidence=evidence_for_js(text=report.text, evidence=evidence_raw),
    )


_SPAN_KEYS = ("start", "end", "sentence_start", "sentence_end", "cue_start", "cue_end")


def evidence_for_js(*, text: str, evidence: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    """Evidence spans with every offset converted to UTF-16 units."""
    convert = utf16_offset_converter(text)
    out: dict[str, list[dict[str, object]]] = {}
    for name, spans in evidence.items():
        converted = []
        for span in spans or []:
            item = dict(span)
            for key in _SPAN_KEYS:
                if isinstance(item.get(key), int):
                    item[key] = convert(item[key])  # type: ignore[arg-type]
            converted.append(item)
        out[name] = converted
    return out


def sections_for_js(*, report: Report) -> list[dict[str, object]]:
    convert = utf16_offset_converter(report.text)
    result = []
    for row in report.sections or []:
        name, heading_start, body_start, body_end = row
        result.append(
            {"name": str(name), "heading_start": convert(heading_start), "body_start": convert(body_start), "body_end": convert(body_end)}
        )
    return result


def report_text_length_js(*, report: Report) -> int:
    return utf16_length(report.text)


DEFAULT_GUIDELINES: dict[str, str] = {
    Observation.NO_FINDING.value: "Positive only when no other observation is positive or uncertain (Support Devices excepted).",
    Observation.ENLARGED_CARDIOMEDIASTINUM.value: "Widened mediastinum or enlarged cardiomediastinal silhouette. Positive when cardiomegaly is positive unless the report says the mediastinum is normal.",
    Observation.CARDIOMEGALY.value: "Enlarged heart / cardiac silhouette. 'Borderline' or 'upper limits of normal' is uncertain.",
    Observation.LUNG_LESION.value: "Nodule, mass, lesion, cavity or granuloma that is not calcified. Calcified granuloma alone: blank.",
    Observation.LUNG_OPACITY.value: "Any parenchymal opacity, including edema, consolidation, pneumonia, atelectasis and lesions.",
    Observation.EDEMA.value: "Pulmonary edema, vascular congestion with interstitial markings, Kerley lines.",
    Observation.CONSOLIDATION.value: "Consolidation or airspace disease. 'Cannot exclude' is uncertain.",
    Observation.PNEUMONIA.value: "Pneumonia or infection named by the report; consolidation alone is not pneumonia.",
    Observation.ATELECTASIS.value: "Atelectasis, collapse, volume loss; 'atelectasis versus consolidation' is uncertain for both.",
    Observation.PNEUMOTHORAX.value: "Pneumothorax of any size; 'no pneumothorax' is negative.",
    Observation.PLEURAL_EFFUSION.value: "Pleural effusion or fluid; blunted costophrenic angle alone is uncertain.",
    Observation.PLEURAL_OTHER.value: "Pleural thickening, plaques, fibrosis or calcification.",
    Observation.FRACTURE.value: "Acute or old fractures of ribs, clavicles, spine; 'healed' fractures are still positive.",
    Observation.SUPPORT_DEVICES.value: "Lines, tubes, pacemakers, wires, valves, clips and other devices.",
}


@dataclass(frozen=True)
class Guideline:
    observation: str
    text: str
    version: int  # 0 = built-in default


def guidelines_current() -> dict[str, Guideline]:
    """The current guideline of each observation, in CheXpert order."""
    latest: dict[str, GuidelineVersion] = {}
    for row in GuidelineVersion.objects.order_by("observation", "-version"):
        latest.setdefault(row.observation, row)
    out = {}
    for name in OBSERVATION_NAMES:
        row = latest.get(name)
        out[name] = Guideline(name, row.text, row.version) if row else Guideline(name, DEFAULT_GUIDELINES.get(name, ""), 0)
    return out


def guideline_history(*, observation: str) -> QuerySet[GuidelineVersion]:
    return GuidelineVersion.objects.filter(observation=observation).select_related("created_by").order_by("-version")


# --- adjudication ------------------------------------------------------------------
def conflicting_observations(label_sets: Iterable[LabelDict]) -> list[str]:
    """Observations on which the given label sets do not all agree (CheXpert order)."""
    sets = list(label_sets)
    return [name for name in OBSERVATION_NAMES if len({s.get(name) for s in sets}) > 1]


@dataclass(frozen=True)
class AdjudicationItem:
    report_id: int
    external_id: str
    reads: int
    conflicts: int
    is_gold: bool = False


def adjudication_queue(*, adjudicator: AbstractBaseUser) -> list[AdjudicationItem]:
    """Reports with k submitted reads, no gold, not flagged and not read by
    `adjudicator`, most conflicting observations first."""
    k = runtime_settings_get().reads_per_report
    ready = (
        Annotation.objects.filter(status=SUBMITTED)
        .values("report_id")
        .annotate(n=Count("id"))
        .filter(n__gte=k)
        .values("report_id")
    )
    reports = (
        unflagged_reports(Report.objects.filter(id__in=ready))
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=adjudicator)))
        .values_list("id", "external_id")
    )
    ids = dict(reports)
    labels_by_report: dict[int, list[LabelDict]] = {}
    for report_id, labels in Annotation.objects.filter(report_id__in=list(ids), status=SUBMITTED).values_list("report_id", "labels"):
        labels_by_report.setdefault(report_id, []).append(labels)
    items = [
        AdjudicationItem(rid, ids[rid], len(sets), len(conflicting_observations(sets))) for rid, sets in labels_by_report.items()
    ]
    items.sort(key=lambda i: (-i.conflicts, i.report_id))
    return items


@dataclass(frozen=True)
class AdjudicationRead:
    label: str  # "Reader A" (or the username when anonymisation is off)
    labels: LabelDict
    annotation_id: int


@dataclass(frozen=True)
class AdjudicationView:
    report: Report
    reads: list[AdjudicationRead]
    conflicts: list[str]
    current_gold: GoldLabel | None


def user_may_adjudicate(*, user: AbstractBaseUser, report: Report) -> bool:
    if Role.ADJUDICATOR not in user_roles(user=user):
        return False
    return not Annotation.objects.filter(report=report, reader=user).exists()


def adjudication_view_get(*, adjudicator: AbstractBaseUser, report_id: int) -> AdjudicationView | None:
    """Submitted reads of a report for an adjudicator who did not read it; None otherwise."""
    report = unflagged_reports().filter(id=report_id).first()
    if report is None or not user_may_adjudicate(user=adjudicator, report=report):
        return None
    annotations = list(
        Annotation.objects.filter(report=report, status=SUBMITTED).select_related("reader").order_by("submitted_at", "id")
    )
    if not annotations:
        return None
    anonymise = review_settings_get().anonymise_readers
    reads = [
        AdjudicationRead(
            label=f"Reader {chr(ord('A') + i)}" if anonymise or i >= 26 else a.reader.get_username(),
            labels=a.labels,
            annotation_id=a.id,
        )
        for i, a in enumerate(annotations)
    ]
    return AdjudicationView(
        report=report,
        reads=reads,
        conflicts=conflicting_observations(r.labels for r in reads),
        current_gold=GoldLabel.objects.filter(report=report, is_current=True).first(),
    )


# --- gold-set versions -------------------------------------------------------------
def gold_set_versions() -> QuerySet[GoldSetVersion]:
    return GoldSetVersion.objects.select_related("created_by").annotate(size=Count("goldsetmembership")).order_by("-created_at")


def gold_current_count() -> int:
    return GoldLabel.objects.filter(is_current=True).count()


@dataclass(frozen=True)
class GoldLabelChange:
    report_id: int
    external_id: str
    changes: list[tuple[str, str, str]]  # (observation, value in a, value in b)


@dataclass(frozen=True)
class GoldSetComparison:
    a: GoldSetVersion
    b: GoldSetVersion
    added: list[str]  # external ids only in b
    removed: list[str]  # external ids only in a
    changed: list[GoldLabelChange]
    unchanged: int


def gold_set_versions_compare(*, a: GoldSetVersion, b: GoldSetVersion) -> GoldSetComparison:
    """Which reports entered, left or changed labels between versions a and b."""

    def load(version: GoldSetVersion) -> dict[int, tuple[str, LabelDict]]:
        rows = GoldSetMembership.objects.filter(version=version).values_list("report_id", "report__external_id", "gold_label__labels")
        return {rid: (ext, labels) for rid, ext, labels in rows}

    left, right = load(a), load(b)
    added = sorted(right[r][0] for r in right.keys() - left.keys())
    removed = sorted(left[r][0] for r in left.keys() - right.keys())
    changed, unchanged = [], 0
    for rid in sorted(left.keys() & right.keys()):
        la, lb = left[rid][1], right[rid][1]
        diff = [(name, la.get(name, ""), lb.get(name, "")) for name in OBSERVATION_NAMES if la.get(name) != lb.get(name)]
        if diff:
            changed.append(GoldLabelChange(rid, left[rid][0], diff))
        else:
            unchanged += 1
    return GoldSetComparison(a, b, added, removed, changed, unchanged)


# --- users -----------------------------------------------------------------------------
def users_with_roles() -> list[tuple[AbstractBaseUser, list[str]]]:
    User = get_user_model()
    users = User.objects.prefetch_related("groups").order_by("username")
    role_names = {r.group_name for r in Role}
    return [(u, sorted(g.name for g in u.groups.all() if g.name in role_names)) for u in users]


# --- re-reads -----------------------------------------------------------------------
def reread_pending_get(*, reader: AbstractBaseUser, report_id: int) -> Reread | None:
    """The reader's own pending re-read of a report (never another reader's)."""
    return (
        Reread.objects.filter(reader=reader, report_id=report_id, submitted_at__isnull=True, report__is_flagged=False)
        .select_related("report")
        .first()
    )


@dataclass(frozen=True)
class IntraReaderAgreement:
    reader: str
    rereads: int
    identical_reports: int  # re-reads equal to the first read on all 14 observations
    observation_agreement: float | None  # share of observation values that match
    kappa: float | None  # Cohen's kappa over all observation values, first vs second read


def intra_reader_agreement(*, reader: AbstractBaseUser | None = None) -> list[IntraReaderAgreement]:
    """First read vs deliberate re-read, per reader (only `reader`'s own when given:
    a reader never sees another reader's figures)."""
    from labeling.metrics import cohen_kappa

    rereads = Reread.objects.filter(submitted_at__isnull=False).select_related("reader")
    if reader is not None:
        rereads = rereads.filter(reader=reader)
    firsts = {
        (a.report_id, a.reader_id): a.labels
        for a in Annotation.objects.filter(status=SUBMITTED, report_id__in=rereads.values("report_id"))
    }
    by_reader: dict[str, list[tuple[dict[str, str], dict[str, str]]]] = {}
    for r in rereads:
        first = firsts.get((r.report_id, r.reader_id))
        if first is not None and r.labels:
            by_reader.setdefault(r.reader.get_username(), []).append((first, r.labels))
    result = []
    for name, pairs in sorted(by_reader.items()):
        a = [first[o] for first, _ in pairs for o in OBSERVATION_NAMES]
        b = [second[o] for _, second in pairs for o in OBSERVATION_NAMES]
        kappa = cohen_kappa(a, b)
        result.append(IntraReaderAgreement(
            reader=name, rereads=len(pairs),
            identical_reports=sum(1 for first, second in pairs if all(first[o] == second[o] for o in OBSERVATION_NAMES)),
            observation_agreement=sum(x == y for x, y in zip(a, b, strict=True)) / len(a),
            kappa=None if kappa != kappa else kappa,  # nan (a single label used) -> None
        ))
    return result
