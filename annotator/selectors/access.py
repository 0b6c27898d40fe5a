"""Reader blinding: what a user may see of a report and of its reads.

One policy, decided here and nowhere else: every page, API view, export and
statistic that shows a report or a read to a user asks these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from accounts.roles import Role
from accounts.selectors import user_roles
from annotator.models import Reread
from annotator.selectors.reports import ReportWithStatus, reports_with_status
from annotator.selectors.review_settings import review_settings_get
from api.compiled_queries import CompiledQuery, Slots
from labeling.models import (
    Annotation,
    GoldLabel,
    Report,
    Reservation,
)
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import (
    annotations_released_to,
    feedback_time_cutoff,
    report_ids_unreleased_to,
    runtime_settings_get,
)


def user_stand_in(user_id: int) -> User:
    """A user object carrying only an id, for building a compiled query's filters."""
    return User(pk=user_id)


# --- blinding: what a reader may see ------------------------------------------
def _held_or_read_by(reader: User) -> Q:
    """Reports (an OuterRef("pk") filter) handed to `reader` (an active reservation) or read by them (any status)."""
    # Exists | Exists is a Q at run time; the stubs' Q.__or__ takes only Q.
    return (  # type: ignore[return-value]
        Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, state=Reservation.State.ACTIVE))
        | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader))
    )


def report_for_reader(*, reader: User, report_id: int) -> Report | None:
    """The report if `reader` was handed it (reservation) or has read it; else None.

    Flagged reports are hidden from review."""
    # One statement: the flag test (`report_is_flagged`: flagged or withdrawn) is on the same row.
    rows = _REPORT_FOR_READER.run(reader_id=reader.pk, report_id=report_id)
    return rows[0] if rows else None


def _report_for_reader_query(slots: Slots) -> QuerySet[Report]:
    reader = user_stand_in(slots.int("reader_id"))
    return (
        Report.objects.filter(id=slots.int("report_id"), is_flagged=False, is_withdrawn=False)
        .filter(_held_or_read_by(reader))
        .order_by("pk")[:1]
    )


_REPORT_FOR_READER = CompiledQuery("annotator.report_for_reader", _report_for_reader_query)


@dataclass(frozen=True)
class ReportForWrite:
    """`report_for_reader` with what a write checks next, read in the same statement."""

    report: Report
    calibration: bool  # `reader_calibrates`: held or read as a calibration report
    has_gold: bool  # the report has current gold
    # The reader's reservation of the report (at most one): when it began, and
    # until when it holds a place among the k reads (None: none, or released).
    reserved_at: datetime | None = None
    reserved_until: datetime | None = None

    def holds_live(self, now: datetime) -> bool:
        return self.reserved_until is not None and self.reserved_until > now


def _report_for_reader_write_query(slots: Slots) -> QuerySet[Report]:
    reader = user_stand_in(slots.int("reader_id"))
    own_reservation = Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader)
    return (
        Report.objects.filter(id=slots.int("report_id"), is_flagged=False, is_withdrawn=False)
        .filter(_held_or_read_by(reader))
        .annotate(
            calibration_held=Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True)),
            calibration_read=Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True)),
            current_gold=Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)),
            reserved_at=Subquery(own_reservation.values("created_at")[:1]),
            reserved_until=Subquery(own_reservation.filter(state=Reservation.State.ACTIVE).values("expires_at")[:1]),
        )[:1]
    )


_REPORT_FOR_READER_WRITE = CompiledQuery("annotator.report_for_reader_write", _report_for_reader_write_query)


def report_for_reader_write(*, reader: User, report_id: int) -> ReportForWrite | None:
    """`report_for_reader`, `reader_calibrates`, "has current gold" and the reader's
    reservation in one statement (a write asks all four, under the report lock:
    call after `report_lock`, in a statement of its own so it sees what the
    transaction that held the lock before committed)."""
    rows = _REPORT_FOR_READER_WRITE.run(reader_id=reader.pk, report_id=report_id)
    report = rows[0] if rows else None
    if report is None:
        return None
    return ReportForWrite(
        report=report, calibration=bool(report.calibration_held or report.calibration_read),  # type: ignore[attr-defined]
        has_gold=bool(report.current_gold),  # type: ignore[attr-defined]
        reserved_at=report.reserved_at, reserved_until=report.reserved_until,  # type: ignore[attr-defined]
    )


_ANNOTATION_OF_READER = CompiledQuery(
    "annotator.annotation_of_reader",
    lambda slots: Annotation.objects.filter(report_id=slots.int("report_id"), reader_id=slots.int("reader_id")).order_by("pk")[:1],
)


def annotation_of_reader(*, reader: User, report: Report) -> Annotation | None:
    """The reader's own annotation of `report` (never anyone else's)."""
    rows = _ANNOTATION_OF_READER.run(report_id=report.pk, reader_id=reader.pk)
    return rows[0] if rows else None


def annotation_visible_get(*, user: User, annotation_id: int) -> Annotation | None:
    """An annotation by id, only for its own reader. Callers answer 404 on None."""
    # The report comes along: every caller goes on to use it.
    return Annotation.objects.filter(id=annotation_id, reader=user).select_related("report").first()


def gold_feedback_due(*, reader: User, annotation: Annotation, now: datetime | None = None) -> bool:
    """Whether `reader` may see the gold of their own read `annotation` now: the
    release rule `labeling.selectors.annotations_released` (gold, then in batches:
    CHEXGOLD_FEEDBACK_AFTER_READS further reads or CHEXGOLD_FEEDBACK_AFTER_HOURS
    after the submit, never right after it; a calibration read also only once its
    period has ended) for one read. False for anyone else's read."""
    if annotation.reader_id != reader.id:
        return False
    return annotations_released_to(user=reader, now=now).filter(id=annotation.id).exists()


def reader_gold_visible(*, reader: User, now: datetime | None = None, cutoff: datetime | None = None) -> Exists:
    """The release rule as a report filter (OuterRef("pk")): `reader`'s read of
    the report is released (`labeling.selectors.annotations_released`: the report
    is gold and feedback is due). Lists and counts shown to a reader use this in
    place of "has gold". One correlated subquery; nothing is loaded."""
    return Exists(annotations_released_to(user=reader, now=now, cutoff=cutoff).filter(report_id=OuterRef("pk")))


def gold_feedback_for_reader(*, reader: User, report: Report, now: datetime | None = None) -> GoldLabel | None:
    """The current gold labels, only once `reader`'s read of the report is
    released to them (`gold_feedback_due`)."""
    if not annotations_released_to(user=reader, now=now).filter(report=report).exists():
        return None
    return GoldLabel.objects.filter(report=report, is_current=True).first()


@dataclass(frozen=True)
class ReadVsGold:
    report_id: int
    external_id: str
    method: str  # how the gold came about (agreement, adjudicated, imported)
    rationale: str  # the adjudicator's, when given
    differences: list[tuple[str, str, str]]  # (observation, my value, gold value), CheXpert order


def reader_reads_vs_gold(*, reader: User, limit: int = 200) -> list[ReadVsGold]:
    """"My reads vs gold": the reader's own submitted reads of reports whose gold
    they may see now (`reader_gold_visible`: in batches, never right after a
    submit), newest first, with where they differed and the adjudicator's rationale.
    Only the reader's own values and the gold values: never another reader's."""
    reports = Report.objects.filter(is_flagged=False).filter(reader_gold_visible(reader=reader))
    mine = (
        Annotation.objects.filter(reader=reader, status=Annotation.Status.SUBMITTED, report__in=reports)
        .select_related("report").order_by("-submitted_at")[:limit]
    )
    golds = {g.report_id: g for g in GoldLabel.objects.filter(report_id__in=[a.report_id for a in mine], is_current=True)}
    rows = []
    for annotation in mine:
        gold = golds.get(annotation.report_id)
        if gold is None:
            continue
        differences = [(name, annotation.labels.get(name, ""), gold.labels.get(name, "")) for name in OBSERVATION_NAMES
                       if annotation.labels.get(name, "") != gold.labels.get(name, "")]
        rows.append(ReadVsGold(report_id=annotation.report_id, external_id=annotation.report.external_id,
                               method=gold.get_method_display(), rationale=gold.rationale, differences=differences))
    return rows


def reports_visible(*, user: User, roles: frozenset[Role]) -> QuerySet[ReportWithStatus]:
    """Reports `user` may list: everything for admins and adjudicators; for a
    reader only reports reserved for them or read by them, never flagged ones."""
    if roles & {Role.ADMIN, Role.ADJUDICATOR}:
        return reports_with_status().order_by("id")
    # A reader's report shows as in review, never gold, until its gold is released
    # to them (a calibration report too: to them it looks like any other).
    qs = reports_with_status(gold_hidden=report_ids_unreleased_to(user=user))
    if Role.READER in roles:
        mine = _held_or_read_by(user)
        # A reader learns that a report they read is gold only when feedback is due (`gold_feedback_due`).
        # Re-annotating has_gold replaces the plain "has current gold" of `reports_with_status`.
        visible = reader_gold_visible(reader=user)
        return qs.filter(mine).filter(is_flagged=False, is_withdrawn=False).annotate(has_gold=visible).order_by("id")  # type: ignore[no-redef]
    return qs.none()


def _reader_report_visible_query(slots: Slots, *, feedback_after_reads: int) -> QuerySet[Report]:
    # `feedback_after_reads` is read by the release rule itself (settings.CHEXGOLD_FEEDBACK_AFTER_READS)
    # and baked into the SQL: it is named as the variant so that another value compiles anew.
    del feedback_after_reads
    user = user_stand_in(slots.int("reader_id"))
    mine = _held_or_read_by(user)
    return (
        Report.objects.filter(id=slots.int("report_id"), is_flagged=False, is_withdrawn=False)
        .filter(mine)
        .annotate(has_gold=reader_gold_visible(reader=user, cutoff=slots.datetime("cutoff")), has_reads=Value(True),
                  flagged=Value(False))[:1]
    )


_READER_REPORT_VISIBLE = CompiledQuery("annotator.reader_report_visible", _reader_report_visible_query)


def report_visible_get(*, user: User, roles: frozenset[Role], report_id: int) -> ReportWithStatus | None:
    """One report as `reports_visible` lists it (None: not `user`'s to see), with
    its status. The report page and API ask for one report per request; for a
    reader this is one small statement instead of the list's query filtered to
    one id: of the reader's own unflagged reports, the status is "gold" once the
    read's gold is released to them and "in review" before (in the list the
    unreleased ones join the reads through `gold_hidden`), so the list's
    per-report subqueries are not needed (tests/annotator/test_report_visible.py
    compares the two for every report state)."""
    if roles & {Role.ADMIN, Role.ADJUDICATOR} or Role.READER not in roles:
        return reports_visible(user=user, roles=roles).filter(id=report_id).first()
    rows = _READER_REPORT_VISIBLE.run(
        {"feedback_after_reads": settings.CHEXGOLD_FEEDBACK_AFTER_READS}, reader_id=user.pk, report_id=report_id,
        cutoff=feedback_time_cutoff(timezone.now()),
    )
    return rows[0] if rows else None


# --- involvement and adjudication: who may see or resolve the reads of a report ----
def _involved(user: User) -> Q:
    """Reports (as an OuterRef("pk") filter) that `user` reads or holds: an
    annotation of any status, an active reservation, or a pending re-read."""
    # Q | Exists is a Q at run time (Django combines conditional expressions); the stubs' Q.__or__ takes only Q.
    return (
        Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=user))  # type: ignore[return-value]
        | Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=user, state=Reservation.State.ACTIVE))
        | Exists(Reread.objects.filter(report_id=OuterRef("pk"), reader=user, submitted_at__isnull=True))
    )


def report_involves_user(*, user: User, report_id: int) -> bool:
    """Whether `user` reads or holds the report (draft, submitted read, reservation, pending re-read)."""
    return Report.objects.filter(id=report_id).filter(_involved(user)).exists()


def reports_awaiting_adjudication() -> QuerySet[Report]:
    """THE predicate of the adjudication queue: unflagged reports with k submitted
    reads and no current gold. Resolving is accepted only for these (and gold
    reports, as a correction); one definition for the queue, the pages and the API."""
    k = runtime_settings_get().reads_per_report
    ready = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED, is_calibration=False)
        .values("report_id")
        .annotate(n=Count("id"))
        .filter(n__gte=k)
        .values("report_id")
    )
    return (
        Report.objects.filter(id__in=ready, is_flagged=False, is_withdrawn=False)
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("pk"), is_current=True)))
    )


def reports_adjudicable_by(*, user: User) -> QuerySet[Report]:
    """Reports awaiting adjudication that `user` neither reads nor holds."""
    return reports_awaiting_adjudication().exclude(_involved(user))


@dataclass(frozen=True)
class AdjudicationAccess:
    allowed: bool
    reason: str = ""
    correction: bool = False  # the report is gold already: a resolution supersedes it


def adjudication_access(*, user: User, report: Report) -> AdjudicationAccess:
    """THE rule for seeing other readers' labels of a report and for writing its gold.

    Allowed only to adjudicators who neither read nor hold the report (a user with
    both roles never adjudicates, or sees the other reads of, a report they read),
    for an unflagged report that awaits adjudication, or is gold already (then a
    new resolution is an audited correction, a new gold version). Everything else
    is refused, and callers answer as if the report did not exist (404)."""
    if Role.ADJUDICATOR not in user_roles(user=user):
        return AdjudicationAccess(False, "not an adjudicator")
    if report.is_flagged:
        return AdjudicationAccess(False, "the report is flagged")
    if report.is_withdrawn:
        return AdjudicationAccess(False, "the report's import was withdrawn")
    if report_involves_user(user=user, report_id=report.id):
        return AdjudicationAccess(False, "you read or hold this report")
    if GoldLabel.objects.filter(report=report, is_current=True).exists():
        return AdjudicationAccess(True, correction=True)
    if reports_awaiting_adjudication().filter(id=report.id).exists():
        return AdjudicationAccess(True)
    return AdjudicationAccess(False, "the report is not awaiting adjudication")


def reads_visible_to(*, user: User, report: Report) -> bool:
    """Whether `user` may see other readers' labels of `report` (adjudication page and API)."""
    return adjudication_access(user=user, report=report).allowed


def report_ids_hidden_from(*, user: User) -> QuerySet[Report, Any]:  # rows are {"id": ...}
    """Reports whose reads `user` must not see in any list (audit history): the
    ones they read or hold whose gold is not released to them
    (`labeling.selectors.report_ids_unreleased_to`, the one release rule)."""
    return report_ids_unreleased_to(user=user)


# --- identifiers: what of a report besides its id and text a user may see --------
def report_metadata_visible(*, user: User) -> bool:
    """Study date and import metadata: admins always; readers and adjudicators only
    when the admin setting `readers_see_study_metadata` is on."""
    return Role.ADMIN in user_roles(user=user) or review_settings_get().readers_see_study_metadata


def report_identifiers_for(*, user: User, report: Report) -> dict[str, object]:
    """The identifying fields of `report` as `user` may see them: the patient id
    only for admins, never for readers or adjudicators; study date and metadata
    as `report_metadata_visible` says (None / {} when hidden)."""
    admin = Role.ADMIN in user_roles(user=user)
    shown = admin or review_settings_get().readers_see_study_metadata
    return {
        "patient_id": report.patient_id if admin else None,
        "study_date": report.study_date if shown else None,
        "metadata": report.metadata if shown else {},
    }
