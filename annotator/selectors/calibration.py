"""Calibration reports: which reports and periods there are, whether a reader's
calibration read may be shown back to them, and readers' accuracy on them.

Only admins see what is a calibration report; to a reader a calibration report
looks like any other report (see `annotator.selectors.access`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, QuerySet

from annotator.models import CalibrationReport
from labeling.models import Annotation, CalibrationPeriod, GoldLabel, Report, Reservation
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import report_ids_unreleased_to

# Reads further apart than this start a new reading session (fatigue is accuracy
# by hour since the session began).
SESSION_GAP = dt.timedelta(minutes=30)


def calibration_period_open() -> CalibrationPeriod | None:
    return CalibrationPeriod.objects.filter(ended_at__isnull=True).order_by("-started_at", "-id").first()


def calibration_periods() -> QuerySet[CalibrationPeriod]:
    return CalibrationPeriod.objects.all()


def calibration_reports() -> QuerySet[CalibrationReport]:
    """Every calibration report, active or not, with its report (admins only)."""
    return CalibrationReport.objects.select_related("report", "marked_by").order_by("-marked_at", "-id")


def calibration_candidates_for(*, reader: User) -> QuerySet[CalibrationReport]:
    """Active calibration reports `reader` may be handed: current gold, not
    flagged, never read or held by them, and not adjudicated by them."""
    return (
        CalibrationReport.objects.filter(is_active=True, report__is_flagged=False)
        .filter(Exists(GoldLabel.objects.filter(report_id=OuterRef("report_id"), is_current=True)))
        .exclude(Exists(Annotation.objects.filter(report_id=OuterRef("report_id"), reader=reader)))
        .exclude(Exists(Reservation.objects.filter(report_id=OuterRef("report_id"), reader=reader)))
        .exclude(Exists(GoldLabel.objects.filter(report_id=OuterRef("report_id"), adjudicator=reader)))
    )


def reader_calibrates(*, reader: User, report_id: int) -> bool:
    """Whether `reader` holds or reads `report_id` as a calibration report."""
    # One statement for both tables.
    return Report.objects.filter(id=report_id).filter(
        Exists(Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True))
        | Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True))
    ).exists()


def calibration_hidden_report_ids(*, reader: User) -> set[int]:
    """Reports of `reader`'s calibration reads and reservations whose gold must not
    be shown to them yet (held, in draft, begun in the period still open, or not
    yet due): the release rule `labeling.selectors.report_ids_unreleased_to`
    narrowed to calibration reports (for admins' checks and tests; pages and APIs
    use the rule itself)."""
    mine = Exists(Annotation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True)) | Exists(
        Reservation.objects.filter(report_id=OuterRef("pk"), reader=reader, is_calibration=True)
    )
    return set(Report.objects.filter(id__in=report_ids_unreleased_to(user=reader)).filter(mine).values_list("id", flat=True))


# --- accuracy ------------------------------------------------------------------------
@dataclass
class Tally:
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def as_dict(self) -> dict[str, object]:
        return {"correct": self.correct, "total": self.total, "accuracy": self.accuracy}


@dataclass
class ReaderCalibration:
    reader: str
    reads: int = 0
    overall: Tally = field(default_factory=Tally)  # observation values equal to gold
    by_observation: dict[str, Tally] = field(default_factory=dict)
    by_week: dict[str, Tally] = field(default_factory=dict)  # drift: ISO week of the read ("2026-W49")
    by_period: dict[int, Tally] = field(default_factory=dict)  # drift: the calibration period the read began in
    by_session_hour: dict[int, Tally] = field(default_factory=dict)  # fatigue: hours since the session began

    def as_dict(self) -> dict[str, object]:
        return {
            "reader": self.reader, "reads": self.reads, **{k: v for k, v in self.overall.as_dict().items()},
            "by_observation": {o: t.as_dict() for o, t in self.by_observation.items()},
            "by_week": {w: t.as_dict() for w, t in sorted(self.by_week.items())},
            "by_period": {str(p): t.as_dict() for p, t in sorted(self.by_period.items())},
            "by_session_hour": {str(h): t.as_dict() for h, t in sorted(self.by_session_hour.items())},
        }


def _session_starts(times: list[dt.datetime]) -> list[dt.datetime]:
    """For each time (sorted), when its reading session began."""
    starts: list[dt.datetime] = []
    for i, t in enumerate(times):
        starts.append(t if i == 0 or t - times[i - 1] > SESSION_GAP else starts[-1])
    return starts


def calibration_accuracy(*, reader: User | None = None) -> list[ReaderCalibration]:
    """Per reader: accuracy of submitted calibration reads against the report's
    current gold, overall, per observation, per ISO week and calibration period
    (drift; period 0: begun outside any period) and per hour of
    the reading session (fatigue; sessions are split at gaps over SESSION_GAP,
    counting every submitted read of the reader). Admins only."""
    reads = Annotation.objects.filter(is_calibration=True, status=Annotation.Status.SUBMITTED).select_related("reader")
    if reader is not None:
        reads = reads.filter(reader=reader)
    reads_list = list(reads.order_by("reader_id", "submitted_at", "id"))
    gold = dict(
        GoldLabel.objects.filter(is_current=True, report_id__in={a.report_id for a in reads_list}).values_list("report_id", "labels")
    )
    reader_ids = {a.reader_id for a in reads_list}
    all_times: dict[int, list[dt.datetime]] = defaultdict(list)
    for rid, at in (
        Annotation.objects.filter(reader_id__in=reader_ids, status=Annotation.Status.SUBMITTED, submitted_at__isnull=False)
        .order_by("reader_id", "submitted_at").values_list("reader_id", "submitted_at")
    ):
        if at is not None:
            all_times[rid].append(at)
    session_start: dict[tuple[int, dt.datetime], dt.datetime] = {}
    for rid, times in all_times.items():
        for t, s in zip(times, _session_starts(times), strict=True):
            session_start[(rid, t)] = s
    periods = list(CalibrationPeriod.objects.order_by("started_at").values_list("id", "started_at"))
    result: dict[int, ReaderCalibration] = {}
    for a in reads_list:
        truth = gold.get(a.report_id)
        if truth is None or not a.labels or a.submitted_at is None:
            continue
        row = result.setdefault(a.reader_id, ReaderCalibration(
            reader=a.reader.get_username(), by_observation={o: Tally() for o in OBSERVATION_NAMES}))
        row.reads += 1
        iso = a.submitted_at.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        period = next((pid for pid, started in reversed(periods) if started <= a.created_at), 0)
        hour = int((a.submitted_at - session_start.get((a.reader_id, a.submitted_at), a.submitted_at)).total_seconds() // 3600)
        for o in OBSERVATION_NAMES:
            ok = int(a.labels.get(o, "") == truth.get(o, ""))
            for tally in (row.overall, row.by_observation[o], row.by_week.setdefault(week, Tally()),
                          row.by_period.setdefault(period, Tally()), row.by_session_hour.setdefault(hour, Tally())):
                tally.correct += ok
                tally.total += 1
    return sorted(result.values(), key=lambda r: r.reader)
