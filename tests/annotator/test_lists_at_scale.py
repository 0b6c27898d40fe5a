"""Lists that must stay fast at 200k reports (bench/bench_lists.py) without
changing what they return: the reports list's rules-vs-model disagreement filter
(now a flag kept on annotator.ReportPriority) against the old per-request JSON
comparison, the "random" queue order (a fixed permutation, the same on every
request), and the audit history's cursor pages against its page numbers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.urls import reverse
from rest_framework.test import APIClient

from annotator import selectors, services
from labeling.models import MachinePrediction, Report, RuntimeSettings
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import active_model_version_get, latest_rules_version
from tests.factories import AnnotationFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def _old_disagreement_ids(disagreement: bool) -> set[int]:
    """The filter as it was before #19 (annotator/selectors/reports.py at b2bf0ec): per
    observation, the latest rules' label text against the active model's, in SQL."""
    rules, model = latest_rules_version(), active_model_version_get()
    qs = Report.objects.all()
    if rules is None or model is None:
        return set() if disagreement else set(qs.values_list("id", flat=True))
    slug = {n: n.lower().replace(" ", "_") for n in OBSERVATION_NAMES}
    rule_rows = MachinePrediction.objects.filter(source="rules", source_version=rules, report_id=OuterRef("pk"))
    annotated = qs.annotate(**{f"rule_{slug[n]}": Subquery(rule_rows.annotate(v=KT(f"labels__{n}")).values("v")[:1])
                               for n in OBSERVATION_NAMES})
    model_rows = MachinePrediction.objects.filter(model_version=model, report_id=OuterRef("pk")).annotate(
        **{f"m_{slug[n]}": KT(f"labels__{n}") for n in OBSERVATION_NAMES})
    differs = Q()
    for n in OBSERVATION_NAMES:
        differs |= ~Q(**{f"m_{slug[n]}": OuterRef(f"rule_{slug[n]}")})
    different = Exists(model_rows.filter(differs))
    has_both = Exists(rule_rows) & Exists(MachinePrediction.objects.filter(model_version=model, report_id=OuterRef("pk")))
    return set(annotated.filter(has_both).filter(different if disagreement else ~different).values_list("id", flat=True))


def _reference_ids(disagreement: bool) -> set[int]:
    """The same definition in Python; on PostgreSQL also checked against the old SQL
    (which failed on SQLite: "malformed JSON" from the JSON-to-JSON comparisons)."""
    rules, model = latest_rules_version(), active_model_version_get()
    every = set(Report.objects.values_list("id", flat=True))
    if rules is None or model is None:
        return set() if disagreement else every
    rule = dict(MachinePrediction.objects.filter(source="rules", source_version=rules).values_list("report_id", "labels"))
    mine = dict(MachinePrediction.objects.filter(model_version=model).values_list("report_id", "labels"))
    both = set(rule) & set(mine)
    differ = {rid for rid in both if any(rule[rid].get(n) != mine[rid].get(n) for n in OBSERVATION_NAMES)}
    ids = differ if disagreement else both - differ
    if connection.vendor == "postgresql":
        assert ids == _old_disagreement_ids(disagreement)
    return ids


def _listed(client: APIClient, disagreement: str) -> set[int]:
    body = client.get("/api/reports/", {"disagreement": disagreement, "page_size": "500"}).json()
    return {r["id"] for r in body["results"]}


def test_disagreement_filter_matches_the_old_definition(make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("boss", "admin")
    client = APIClient()
    client.force_authenticate(admin)
    old_model = ModelVersionFactory(name="m-old")
    model = ModelVersionFactory(name="m-new", is_active=True)
    reports = ReportFactory.create_batch(12)
    for i, report in enumerate(reports):
        rule = labels(edema="positive" if i % 2 else "negative", cardiomegaly="uncertain" if i % 3 == 0 else "blank")
        if i != 11:  # the last: no rule labels
            RulePredictionFactory(report=report, source_version="2.0", labels=rule)
        if i < 9:  # 9..11: no model labels (yet)
            mine = dict(rule)
            if i % 4 == 0:
                mine["Edema"] = "uncertain"
            RulePredictionFactory(report=report, source="model", source_version=model.name, model_version=model, labels=mine)
        RulePredictionFactory(report=report, source="model", source_version=old_model.name, model_version=old_model,
                              labels=labels(edema="positive"))
    for flag in ("true", "false"):
        assert _listed(client, flag) == _reference_ids(flag == "true")
    assert _listed(client, "true")  # both answers are non-trivial
    # The model labels a report after the keys were computed (same basis): it joins the list.
    RulePredictionFactory(report=reports[9], source="model", source_version=model.name, model_version=model,
                          labels=labels(pleural_effusion="positive"))
    assert reports[9].id in _listed(client, "true") and _listed(client, "true") == _reference_ids(True)
    # Another model activated: the flags follow it.
    model.is_active = False
    model.save()
    old_model.is_active = True
    old_model.save()
    for flag in ("true", "false"):
        assert _listed(client, flag) == _reference_ids(flag == "true")
    # Without an active model nothing disagrees, as before.
    old_model.is_active = False
    old_model.save()
    assert _listed(client, "true") == set() and _listed(client, "false") == {r.id for r in reports}


def test_random_order_is_a_fixed_permutation_of_the_open_reports(make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    settings_row.queue_order = RuntimeSettings.QueueOrder.RANDOM
    settings_row.save()
    reader, other = make_user("ann", "reader"), make_user("bob", "reader")
    reports = ReportFactory.create_batch(30)
    services.report_priorities_refresh()
    first = list(selectors.assignable_reports(reader=reader).values_list("id", flat=True))
    assert sorted(first) == sorted(r.id for r in reports) and first != sorted(first)  # all of them, shuffled
    assert list(selectors.assignable_reports(reader=reader).values_list("id", flat=True)) == first  # the same every time
    # The reader is handed the reports in that order; a report finished by others leaves it.
    handed = services.next_report_assign(reader=reader)
    assert handed is not None and handed.id == first[0]
    AnnotationFactory(report_id=first[1], reader=other, status="submitted", labels=labels())
    AnnotationFactory(report_id=first[1], reader=make_user("cat", "reader"), status="submitted", labels=labels())
    services.priority_open_recompute(report_id=first[1])
    rest = list(selectors.assignable_reports(reader=reader).values_list("id", flat=True))
    assert rest == [rid for rid in first if rid not in (first[0], first[1])]
    # New reports join the order at their fixed place on the next hand-out.
    newcomer = ReportFactory()
    services.next_report_assign(reader=other)
    assert newcomer.id in selectors.assignable_reports(reader=reader).values_list("id", flat=True)


def test_audit_cursor_pages_walk_the_same_history_as_page_numbers(make_user, make_reports) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("boss", "admin")
    for i in range(6):
        make_user(f"r{i}", "reader")  # role changes
    reader = make_user("ann", "reader")
    for report in make_reports(8):
        annotation = AnnotationFactory(report=report, reader=reader, labels=labels())
        annotation.status = "submitted"
        annotation.save()
    client = APIClient()
    client.force_authenticate(admin)
    everything = client.get(reverse("api:audit"), {"page_size": 500}).json()
    assert everything["count"] > 20
    walked: list[dict] = []
    cursor: str | None = ""
    while cursor is not None:
        page = client.get(reverse("api:audit"), {"cursor": cursor, "page_size": "7"}).json()
        assert page["count"] is None and len(page["results"]) <= 7
        walked += page["results"]
        cursor = page["next_cursor"]
    assert walked == everything["results"]
    # A page-numbered answer says where to go on by cursor.
    second = client.get(reverse("api:audit"), {"page_size": 7}).json()
    resumed = client.get(reverse("api:audit"), {"page_size": 7, "cursor": second["next_cursor"]}).json()
    assert resumed["results"] == everything["results"][7:14]
    # Too deep for page numbers, or a cursor it never handed out: the client's mistake, said clearly.
    deep = client.get(reverse("api:audit"), {"page": 201, "page_size": 50})
    assert deep.status_code == 400 and "cursor" in deep.json()["detail"]
    assert client.get(reverse("api:audit"), {"cursor": "bm90IGEgY3Vyc29y"}).status_code == 400


def test_rows_from_before_the_upgrade_get_their_new_keys(make_user, settings_row) -> None:  # type: ignore[no-untyped-def]
    from annotator.models import ReportPriority

    model = ModelVersionFactory(name="m", is_active=True)
    report = ReportFactory()
    RulePredictionFactory(report=report, source_version="2.0", labels=labels(edema="positive"))
    RulePredictionFactory(report=report, source="model", source_version="m", model_version=model, labels=labels(edema="negative"))
    services.report_priorities_refresh()
    # What the migration leaves: the old columns computed, the new ones at their defaults.
    ReportPriority.objects.update(rules_vs_model=None, random_key=0, predictions_seen=0)
    assert services.report_priorities_refresh() == 1
    row = ReportPriority.objects.get(report=report)
    assert row.rules_vs_model is True and row.random_key == services.report_random_key(report.id) and row.predictions_seen > 0
    assert services.report_priorities_refresh() == 0  # once
