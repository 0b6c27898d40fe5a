"""Pending re-reads and intra-reader agreement (first read vs re-read)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from annotator.models import Reread
from labeling.models import (
    Annotation,
)
from labeling.observations import OBSERVATION_NAMES
from quality.metrics import cohen_kappa


# --- re-reads -----------------------------------------------------------------------
def reread_pending_get(*, reader: User, report_id: int) -> Reread | None:
    """The reader's own pending re-read of a report (never another reader's)."""
    return (
        Reread.objects.filter(reader=reader, report_id=report_id, submitted_at__isnull=True, report__is_flagged=False, report__is_withdrawn=False)
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


def intra_reader_agreement(*, reader: User | None = None) -> list[IntraReaderAgreement]:
    """First read vs deliberate re-read, per reader (only `reader`'s own when given:
    a reader never sees another reader's figures)."""
    rereads = Reread.objects.filter(submitted_at__isnull=False).select_related("reader")
    if reader is not None:
        rereads = rereads.filter(reader=reader)
    firsts = {
        (a.report_id, a.reader_id): a.labels
        for a in Annotation.objects.filter(status=Annotation.Status.SUBMITTED, is_calibration=False,
                                           report_id__in=rereads.values("report_id"))
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
