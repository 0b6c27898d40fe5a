"""The reader-blinding and gold-workflow rule, tried for every role in every
report state through every way in (pages, API, statistics, audit, exports).

Rule (annotator.selectors.access): nobody sees another reader's labels of a
report they read or hold until it is gold; gold is written only for a report
awaiting adjudication (or as a correction of a gold report) by an adjudicator
who neither reads nor holds it; readers never get patient ids, nor study
metadata unless an admin allows it. Users: a reader, an adjudicator, and one
account with both roles; each state is tried with the tested user uninvolved
and, for readers, as one of the report's readers.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from annotator import services
from annotator.models import RefusedGoldWrite
from labeling.models import Annotation, GoldLabel, Report
from tests.factories import labels
from tests.statistics_helpers import statistics_ready

STATES = ("unread", "reserved", "draft", "submitted_below_k", "awaiting_adjudication", "gold_by_agreement",
          "adjudicated", "imported", "corrected", "flagged")
# What the other readers put: values no one else uses, so any leak is visible in a response.
X_LABELS = labels(fracture="uncertain", pleural_other="uncertain")
Y_LABELS = labels(fracture="negative", pleural_other="positive")
GOLD_STATES = {"gold_by_agreement", "adjudicated", "imported", "corrected"}
ADJUDICABLE = GOLD_STATES | {"awaiting_adjudication"}


def _submit(reader, report, values) -> None:  # type: ignore[no-untyped-def]
    services.annotation_draft_save(reader=reader, report=report, labels=values, expected_version=0)
    services.annotation_submit(reader=reader, report=report, labels=values, expected_version=1, override_warnings=True)


def _build(state: str, *, report: Report, first, second, adjudicators) -> None:  # type: ignore[no-untyped-def]
    """Bring `report` into `state`; `first` and `second` are its readers (in that order)."""
    if state == "unread":
        return
    assert services.next_report_assign(reader=first) == report
    if state == "reserved":
        return
    services.annotation_draft_save(reader=first, report=report, labels=X_LABELS, expected_version=0)
    if state == "draft":
        return
    services.annotation_submit(reader=first, report=report, labels=X_LABELS, expected_version=1, override_warnings=True)
    if state == "submitted_below_k":
        return
    assert services.next_report_assign(reader=second) == report
    if state == "gold_by_agreement":
        _submit(second, report, X_LABELS)
        assert GoldLabel.objects.filter(report=report, is_current=True, method="agreement").exists()
        return
    _submit(second, report, Y_LABELS)
    if state == "imported":
        GoldLabel.objects.create(report=report, labels=labels(no_finding="positive"), method=GoldLabel.Method.IMPORTED)
        return
    if state in ("adjudicated", "corrected"):
        services.gold_adjudicate(report=report, adjudicator=adjudicators[0], labels=labels(fracture="positive"),
                                 rationale="fracture named", expected_current_gold_id=None)
    if state == "corrected":
        current = GoldLabel.objects.get(report=report, is_current=True)
        services.gold_adjudicate(report=report, adjudicator=adjudicators[1], labels=labels(fracture="uncertain"),
                                 rationale="fracture equivocal", expected_current_gold_id=current.id)
    if state == "flagged":
        services.report_flag(report=report, user=adjudicators[0], reason="not_cxr")


def _cases() -> list[tuple[str, str, bool]]:
    cases = []
    for state in STATES:
        for who in ("reader", "adjudicator", "both"):
            cases.append((state, who, False))
            if who != "adjudicator" and state != "unread":
                cases.append((state, who, True))
    return cases


@pytest.mark.parametrize(("state", "who", "involved"), _cases())
def test_rule_holds_for_every_role_state_and_way_in(state, who, involved, make_user, make_reports, settings_row):  # type: ignore[no-untyped-def]
    roles = {"reader": ("reader",), "adjudicator": ("adjudicator",), "both": ("reader", "adjudicator")}[who]
    user = make_user("tested", *roles)
    other_x, other_y = make_user("xavier", "reader"), make_user("yolanda", "reader")
    adjudicators = [make_user("adj1", "adjudicator"), make_user("adj2", "adjudicator")]
    (report,) = make_reports(1, patient_id="PAT-SECRET-1")
    first = user if involved else other_x
    second = other_y
    _build(state, report=report, first=first, second=second, adjudicators=adjudicators)
    report.refresh_from_db()

    client = Client()
    client.force_login(user)
    may_adjudicate = "adjudicator" in roles and not involved and state in ADJUDICABLE
    other_values = json.dumps(Y_LABELS) if involved else json.dumps(X_LABELS)

    # API: the reads of the report, and resolving it.
    detail = client.get(f"/api/adjudication/{report.id}/")
    if "adjudicator" not in roles:
        assert detail.status_code == 403
    else:
        assert detail.status_code == (200 if may_adjudicate else 404), detail.content
    queue = client.get("/api/adjudication/")
    if "adjudicator" in roles:
        listed = {i["report_id"] for i in queue.json()["results"]}
        assert (report.id in listed) == (may_adjudicate and state == "awaiting_adjudication")
    gold_before = list(GoldLabel.objects.filter(report=report).values_list("id", "is_current"))
    current = GoldLabel.objects.filter(report=report, is_current=True).first()
    refused_before = RefusedGoldWrite.objects.count()
    resolve = client.post(f"/api/adjudication/{report.id}/", {"labels": labels(edema="positive"), "rationale": "edema named", "version": current.id if current else 0},
                          content_type="application/json")
    if "adjudicator" not in roles:
        assert resolve.status_code == 403
    elif may_adjudicate:
        assert resolve.status_code == 200, resolve.content
        assert GoldLabel.objects.get(report=report, is_current=True).adjudicator_id == user.id
    else:
        assert resolve.status_code == 404, resolve.content
        assert list(GoldLabel.objects.filter(report=report).values_list("id", "is_current")) == gold_before  # nothing written
        assert RefusedGoldWrite.objects.count() == refused_before + 1  # the attempt is audited

    # Pages: the adjudication page.
    page = client.get(f"/adjudicate/{report.id}/")
    if "adjudicator" not in roles:
        assert page.status_code == 403
    elif not may_adjudicate:
        assert page.status_code == 404

    # API and pages a reader uses: never another reader's labels, never the patient id.
    for url in (f"/api/reports/{report.id}/", "/api/reports/", "/api/annotations/", "/api/statistics/"):
        response = client.get(url)
        body = response.content.decode()
        assert "PAT-SECRET-1" not in body, url
        if response.status_code == 200 and not may_adjudicate and state not in GOLD_STATES:
            assert other_values not in body, url
    if "reader" in roles:
        review = client.get(f"/review/{report.id}/")
        if review.status_code == 200:
            assert "PAT-SECRET-1" not in review.content.decode()
        statistics_ready(user)
        stats = client.get("/api/statistics/").json()
        if "adjudicator" not in roles:
            assert stats["agreement"] is None and stats["pairs"] == []
        else:
            assert stats["query"]["reads"] == "settled"  # the reports they read never move agreement
    for annotation in Annotation.objects.filter(report=report).exclude(reader=user):
        assert client.get(f"/api/annotations/{annotation.id}/").status_code in (403, 404)

    # Admin-only ways in stay closed to these roles.
    for url in ("/api/audit/", "/api/gold/export/", "/manage/exports/gold", f"/api/reports/{report.id}/"):
        response = client.get(url)
        if url.startswith("/api/reports/"):
            continue
        assert response.status_code == 403, url


def test_admin_who_reads_sees_no_other_reads_in_the_audit_history(make_user, make_reports, settings_row, settings):  # type: ignore[no-untyped-def]
    boss = make_user("boss", "admin", "reader")
    other = make_user("xavier", "reader")
    (report,) = make_reports(1)
    _submit_via_assignment = services.next_report_assign(reader=other)
    assert _submit_via_assignment.id == report.id
    _submit(other, report, X_LABELS)
    assert services.next_report_assign(reader=boss).id == report.id  # the admin now holds the report
    client = Client()
    client.force_login(boss)
    entries = client.get("/api/audit/?kind=annotation").json()["results"]
    assert entries == []  # xavier's read of a report the admin holds is withheld
    services.annotation_draft_save(reader=boss, report=report, labels=X_LABELS, expected_version=0)
    services.annotation_submit(reader=boss, report=report, labels=X_LABELS, expected_version=1, override_warnings=True)
    assert GoldLabel.objects.filter(report=report, is_current=True).exists()  # gold by agreement
    # Not right after the submit (that would tell whether xavier agreed): once the gold is released to the admin.
    assert client.get("/api/audit/?kind=annotation").json()["results"] == []
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # feedback due at once (labeling.selectors.annotations_released)
    assert len(client.get("/api/audit/?kind=annotation").json()["results"]) > 0  # released now: the history is open


def test_readers_get_study_metadata_only_when_an_admin_allows(make_user, make_reports, settings_row):  # type: ignore[no-untyped-def]
    import datetime as dt

    from annotator.selectors import review_settings_get

    reader = make_user("tested", "reader")
    (report,) = make_reports(1, patient_id="PAT-SECRET-1", study_date=dt.date(2021, 3, 4), metadata={"ward": "ICU-7"})
    services.next_report_assign(reader=reader)
    client = Client()
    client.force_login(reader)
    data = client.get(f"/api/reports/{report.id}/").json()
    assert data["patient_id"] is None and data["study_date"] is None and data["metadata"] == {}
    assert "2021-03-04" not in client.get(f"/review/{report.id}/").content.decode()
    row = review_settings_get()
    row.readers_see_study_metadata = True
    row.save()
    data = client.get(f"/api/reports/{report.id}/").json()
    assert data["patient_id"] is None and data["study_date"] == "2021-03-04" and data["metadata"] == {"ward": "ICU-7"}
