from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from annotator import selectors, services
from annotator.models import Flag
from labeling.models import Annotation, GoldLabel, Report, Reservation, RuntimeSettings
from labeling.selectors import runtime_settings_get
from labeling.splits import gold_split_for
from tests.annotator.conftest import NORMAL
from tests.factories import ModelVersionFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def read(reader, report, values=NORMAL, **kw):
    services.next_report_assign(reader=reader) if not Reservation.objects.filter(report=report, reader=reader).exists() else None
    return services.annotation_submit(reader=reader, report=report, labels=values, expected_version=0, **kw)


# --- assignment -------------------------------------------------------------------
def test_assignment_respects_k(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    assert services.next_report_assign(reader=readers[0]) == report
    assert services.next_report_assign(reader=readers[1]) == report
    assert services.next_report_assign(reader=readers[2]) is None  # k = 2 reached by reservations


def test_reader_resumes_own_reservation_and_never_gets_report_twice(settings_row, readers, make_reports):
    r1, r2 = make_reports(2)
    assert services.next_report_assign(reader=readers[0]) == r1
    assert services.next_report_assign(reader=readers[0]) == r1  # resume, not a second report
    services.annotation_submit(reader=readers[0], report=r1, labels=NORMAL, expected_version=0)
    assert services.next_report_assign(reader=readers[0]) == r2
    services.annotation_submit(reader=readers[0], report=r2, labels=NORMAL, expected_version=0)
    assert services.next_report_assign(reader=readers[0]) is None


def test_expired_reservation_frees_the_slot(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    past = timezone.now() - dt.timedelta(minutes=settings_row.reservation_minutes + 1)
    services.next_report_assign(reader=readers[0], now=past)
    services.next_report_assign(reader=readers[1], now=past)
    assert services.next_report_assign(reader=readers[2]) == report


def test_submitted_reads_count_toward_k(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    settings_row.reads_per_report = 1
    settings_row.save()
    services.next_report_assign(reader=readers[0])
    services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    assert services.next_report_assign(reader=readers[1]) is None


def test_skip_removes_report_from_reader_queue(settings_row, readers, make_reports):
    r1, r2 = make_reports(2)
    assert services.next_report_assign(reader=readers[0]) == r1
    services.reservation_skip(reader=readers[0], report=r1)
    assert services.next_report_assign(reader=readers[0]) == r2
    assert services.next_report_assign(reader=readers[1]) == r1  # the skip freed the slot


def test_only_readers_get_reports(settings_row, adjudicator, make_reports):
    make_reports(1)
    with pytest.raises(services.NotAllowed):
        services.next_report_assign(reader=adjudicator)


def _model_prediction(report, model, values, confidence):
    probs = {name: {"blank": confidence, "positive": 1 - confidence} for name in values}
    from labeling.models import MachinePrediction

    MachinePrediction.objects.create(
        report=report, source="model", source_version=model.name, model_version=model, labels=values, probabilities=probs
    )


def test_queue_orders(settings_row, readers, make_reports):
    a, b, c = make_reports(3)
    model = ModelVersionFactory(is_active=True)
    # a: agrees with rules, confident; b: 2 differences, confident; c: 1 difference, least confident
    _model_prediction(a, model, NORMAL, 0.99)
    _model_prediction(b, model, labels(no_finding="negative", edema="positive"), 0.9)
    _model_prediction(c, model, labels(no_finding="uncertain"), 0.6)
    services.report_priorities_refresh()
    order = lambda o: list(selectors.assignable_reports(reader=readers[0], order=o))  # noqa: E731
    assert order(RuntimeSettings.QueueOrder.DISAGREEMENT) == [b, c, a]
    assert order(RuntimeSettings.QueueOrder.UNCERTAINTY) == [c, b, a]
    assert order(RuntimeSettings.QueueOrder.SEQUENTIAL) == [a, b, c]
    assert sorted(order(RuntimeSettings.QueueOrder.RANDOM), key=lambda r: r.id) == [a, b, c]
    settings_row.queue_order = RuntimeSettings.QueueOrder.DISAGREEMENT
    settings_row.save()
    assert services.next_report_assign(reader=readers[0]) == b


def test_priorities_recomputed_when_active_model_changes(settings_row, make_reports):
    (report,) = make_reports(1)
    services.report_priorities_refresh()
    assert report.priority.disagreement == 0
    model = ModelVersionFactory(is_active=True)
    _model_prediction(report, model, labels(no_finding="negative"), 0.7)
    assert services.report_priorities_refresh() == 1
    report.priority.refresh_from_db()
    assert (report.priority.disagreement, report.priority.confidence) == (1, pytest.approx(0.7))


def test_finished_reports_leave_the_priority_walk_and_k_changes_reopen_them(settings_row, readers, make_reports):
    settings_row.queue_order = RuntimeSettings.QueueOrder.DISAGREEMENT
    settings_row.save()
    a, b = make_reports(2)
    services.report_priorities_refresh()
    for reader in readers[:2]:  # two disagreeing reads: k = 2 reached, not gold
        report = services.next_report_assign(reader=reader)
        assert report == a
        values = NORMAL if reader == readers[0] else labels(edema="positive")
        services.annotation_submit(reader=reader, report=a, labels=values, expected_version=0, override_warnings=True)
    a.priority.refresh_from_db()
    assert a.priority.is_open is False and GoldLabel.objects.filter(report=a).count() == 0
    assert list(selectors.assignable_reports(reader=readers[2])) == [b]
    settings_row.reads_per_report = 3  # k is part of the basis: the refresh reopens a
    settings_row.save()
    services.report_priorities_refresh()
    a.priority.refresh_from_db()
    assert a.priority.is_open is True
    assert list(selectors.assignable_reports(reader=readers[2])) == [a, b]


def test_a_flag_closes_a_report_and_keep_reopens_it(settings_row, readers, make_reports, make_user):
    (report,) = make_reports(1)
    services.report_priorities_refresh()
    flag = services.report_flag(report=report, user=readers[0], reason=Flag.Reason.TRUNCATED)
    report.priority.refresh_from_db()
    assert report.priority.is_open is False
    services.flag_resolve(flag=flag, admin=make_user("boss", "admin"), resolution=Flag.Resolution.KEEP)
    report.priority.refresh_from_db()
    assert report.priority.is_open is True


# --- reads, drafts, first read --------------------------------------------------------
def test_draft_version_check_rejects_stale_write(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    services.next_report_assign(reader=readers[0])
    a = services.annotation_draft_save(reader=readers[0], report=report, labels={"Edema": "positive"}, expected_version=0)
    assert a.version == 1 and a.labels["Edema"] == "positive" and "Fracture" not in a.labels  # no value, not a chosen blank
    services.annotation_draft_save(reader=readers[0], report=report, labels={"Edema": "negative"}, expected_version=1)
    with pytest.raises(services.StaleVersion):
        services.annotation_draft_save(reader=readers[0], report=report, labels={"Edema": "uncertain"}, expected_version=1)
    with pytest.raises(services.StaleVersion):
        services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=1)


def test_submit_needs_all_labels_and_records_time(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    services.next_report_assign(reader=readers[0])
    with pytest.raises(services.ReviewError, match="Choose a value"):
        services.annotation_submit(reader=readers[0], report=report, labels={"Edema": "positive"}, expected_version=0)
    result = services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0, time_spent_seconds=12.5)
    assert result.submitted and result.annotation.time_spent_seconds == 12.5 and result.annotation.submitted_at
    assert not Reservation.objects.filter(report=report).exists()


def test_submit_warns_and_saves_only_with_override(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    services.next_report_assign(reader=readers[0])
    bad = labels(no_finding="positive", edema="positive")
    result = services.annotation_submit(reader=readers[0], report=report, labels=bad, expected_version=0)
    assert not result.submitted and [w.code for w in result.warnings] == ["no_finding_with_findings"]
    assert not Annotation.objects.filter(report=report).exists()
    result = services.annotation_submit(reader=readers[0], report=report, labels=bad, expected_version=0, override_warnings=True)
    assert result.submitted


def test_reader_cannot_write_unassigned_report(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    with pytest.raises(services.NotAllowed):
        services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    with pytest.raises(services.NotAllowed):
        services.annotation_draft_save(reader=readers[0], report=report, labels={}, expected_version=0)


def test_independent_first_read_keeps_first_values(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    prefill_row = runtime_settings_get()
    prefill_row.prefill = "none"
    prefill_row.save()
    services.next_report_assign(reader=readers[0])
    with pytest.raises(services.ReviewError, match="first read"):
        services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    first = labels(no_finding="positive", support_devices="negative")
    a = services.annotation_first_read_commit(reader=readers[0], report=report, labels=first, expected_version=0)
    assert not services.review_first_read_required(annotation=a)
    result = services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=a.version)
    assert result.annotation.first_read_labels == first and result.annotation.labels == NORMAL


# --- gold ------------------------------------------------------------------------------
def test_agreement_makes_gold_with_split(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    read(readers[0], report)
    result = read(readers[1], report)
    assert result.gold is not None and result.gold.method == GoldLabel.Method.AGREEMENT
    assert set(result.gold.annotations.values_list("reader__username", flat=True)) == {"reader1", "reader2"}
    report.refresh_from_db()
    assert report.gold_split in ("train", "validation")


def test_blank_is_not_negative_for_agreement(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    read(readers[0], report, labels(no_finding="positive", fracture="blank"))
    result = read(readers[1], report, labels(no_finding="positive", fracture="negative"))
    assert result.gold is None
    assert [i.conflicts for i in selectors.adjudication_queue(adjudicator=readers[2])] == [1]


def test_no_auto_gold_when_off(settings_row, readers, make_reports):
    settings_row.auto_gold = False
    settings_row.save()
    (report,) = make_reports(1)
    read(readers[0], report)
    assert read(readers[1], report).gold is None


def test_adjudication_queue_orders_by_conflicts_and_excludes_own_reads(settings_row, readers, adjudicator, make_reports):
    r1, r2 = make_reports(2)
    read(readers[0], r1, labels(no_finding="positive"))
    read(readers[1], r1, labels(no_finding="negative", edema="positive"))
    read(readers[0], r2, labels(no_finding="positive"))
    read(readers[1], r2, labels(no_finding="negative", edema="positive", atelectasis="positive"))
    assert [(i.report_id, i.conflicts) for i in selectors.adjudication_queue(adjudicator=adjudicator)] == [(r2.id, 3), (r1.id, 2)]
    assert selectors.adjudication_queue(adjudicator=readers[0]) == []


def test_adjudicate_then_correct_supersedes(settings_row, readers, adjudicator, make_reports, make_user):
    (report,) = make_reports(1)
    read(readers[0], report, labels(no_finding="positive"))
    read(readers[1], report, labels(edema="positive", lung_opacity="positive"))
    gold = services.gold_adjudicate(
        report=report, adjudicator=adjudicator, labels=labels(edema="positive", lung_opacity="positive"), rationale="edema named",
        expected_current_gold_id=None,
    )
    assert gold.method == "adjudicated" and gold.adjudicator == adjudicator and gold.annotations.count() == 2
    with pytest.raises(services.GoldConflict):
        services.gold_adjudicate(report=report, adjudicator=adjudicator, labels=NORMAL, expected_current_gold_id=None)
    other = make_user("adj2", "adjudicator")
    fixed = services.gold_adjudicate(report=report, adjudicator=other, labels=labels(edema="uncertain"), rationale="equivocal",
                                   expected_current_gold_id=gold.id)
    gold.refresh_from_db()
    assert not gold.is_current and fixed.is_current and fixed.supersedes == gold
    assert gold.labels == labels(edema="positive", lung_opacity="positive")  # old row untouched


def test_reader_cannot_adjudicate_own_report(settings_row, readers, make_user, make_reports):
    (report,) = make_reports(1)
    both = make_user("both", "reader", "adjudicator")
    read(both, report)
    read(readers[0], report, labels(edema="positive"))
    with pytest.raises(services.NotAllowed):
        services.gold_adjudicate(report=report, adjudicator=both, labels=NORMAL, expected_current_gold_id=None)
    assert selectors.adjudication_view_get(adjudicator=both, report_id=report.id) is None


def test_gold_split_is_stable_per_patient():
    first = gold_split_for(patient_id="p1", external_id="a")
    assert all(gold_split_for(patient_id="p1", external_id=str(i)) == first for i in range(20))
    splits = [gold_split_for(patient_id="", external_id=f"r{i}") for i in range(2000)]
    assert 0.15 < splits.count("validation") / 2000 < 0.25


def test_split_assigned_once(settings_row, readers, adjudicator, make_reports):
    (report,) = make_reports(1)
    Report.objects.filter(id=report.id).update(gold_split="train")
    read(readers[0], report)
    read(readers[1], report)
    report.refresh_from_db()
    assert report.gold_split == "train"


# --- flags ---------------------------------------------------------------------------------
def test_flag_removes_report_from_queue_gold_and_releases_reservations(settings_row, readers, adjudicator, make_reports):
    r1, r2 = make_reports(2)
    services.next_report_assign(reader=readers[0])
    flag = services.report_flag(report=r1, user=readers[0], reason=Flag.Reason.TRUNCATED)
    assert selectors.flagged_report_ids() == {r1.id}
    assert not Reservation.objects.filter(report=r1).exists()
    assert services.next_report_assign(reader=readers[1]) == r2
    assert list(selectors.unflagged_reports()) == [r2]
    services.flag_resolve(flag=flag, admin=adjudicator, resolution=Flag.Resolution.KEEP)
    assert selectors.flagged_report_ids() == set()
    flag2 = services.report_flag(report=r1, user=readers[0], reason=Flag.Reason.OTHER, note="duplicate")
    services.flag_resolve(flag=flag2, admin=adjudicator, resolution=Flag.Resolution.EXCLUDE)
    assert selectors.flagged_report_ids() == {r1.id}


def test_flag_other_needs_reason(settings_row, readers, make_reports):
    (report,) = make_reports(1)
    with pytest.raises(services.ReviewError):
        services.report_flag(report=report, user=readers[0], reason=Flag.Reason.OTHER, note=" ")


# --- gold versions, guidelines ------------------------------------------------------------------
def test_freeze_and_compare_gold_versions(settings_row, readers, adjudicator, make_reports):
    r1, r2 = make_reports(2)
    read(readers[0], r1)
    read(readers[1], r1)
    v1 = services.gold_set_version_freeze(name="v1", user=adjudicator)
    gold = GoldLabel.objects.get(report=r1, is_current=True)
    services.gold_adjudicate(report=r1, adjudicator=adjudicator, labels=labels(edema="positive"), rationale="edema named",
                            expected_current_gold_id=gold.id)
    read(readers[0], r2)
    read(readers[1], r2)
    v2 = services.gold_set_version_freeze(name="v2", user=adjudicator)
    cmp = selectors.gold_set_versions_compare(a=v1, b=v2)
    assert cmp.added == [r2.external_id] and cmp.removed == []
    assert cmp.changed[0].external_id == r1.external_id
    assert ("Edema", "blank", "positive") in cmp.changed[0].changes
    with pytest.raises(services.ReviewError):
        services.gold_set_version_freeze(name="v1", user=adjudicator)


def test_guidelines_are_versioned(admin_user):
    assert selectors.guidelines_current()["Edema"].version == 0
    services.guideline_update(observation="Edema", text="Edema v1", user=admin_user)
    services.guideline_update(observation="Edema", text="Edema v2", user=admin_user)
    current = selectors.guidelines_current()["Edema"]
    assert (current.text, current.version) == ("Edema v2", 2)
    assert [g.version for g in selectors.guideline_history(observation="Edema")] == [2, 1]


