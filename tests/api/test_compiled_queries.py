"""api.compiled_queries: a statement compiled once answers as the ORM does with
every new set of parameters; what cannot be kept safely runs through the ORM;
the reader hot path's statements are kept (not silently falling back)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import compiled_queries
from api.compiled_queries import CompiledQuery, Slots
from labeling.models import Annotation, Report
from tests.api.conftest import NORMAL
from tests.factories import AnnotationFactory, ReportFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def _reports_after(slots: Slots):  # type: ignore[no-untyped-def]
    return Report.objects.filter(id__gt=slots.int("after"), patient_id=slots.str("patient")).order_by("id")


def _kept(query: CompiledQuery, variant: object = ()) -> object:
    return compiled_queries._by_connection.get(connections["default"], {}).get((query.name, variant))


def test_a_kept_statement_answers_as_the_orm_for_each_call(users) -> None:  # type: ignore[no-untyped-def]
    reports = [ReportFactory(patient_id=p) for _ in range(4) for p in ("A", "B")]
    query = CompiledQuery("test.reports_after", _reports_after)
    for after, patient in [(0, "A"), (reports[3].id, "B"), (reports[-1].id, "A"), (0, "C")]:
        expected = list(Report.objects.filter(id__gt=after, patient_id=patient).order_by("id"))
        assert query.run(after=after, patient=patient) == expected
        assert len(expected) == {"A": 4, "B": 2, "C": 0}[patient] or after
    assert isinstance(_kept(query), compiled_queries._Compiled)
    # A lookup that rewrites its value (LIKE escapes it and adds %) is refused, and answered by the ORM.
    like = CompiledQuery("test.like", lambda s: Report.objects.filter(patient_id__startswith=s.str("prefix")))
    assert len(like.run(prefix="A")) == 4 and _kept(like) is compiled_queries._UNCACHEABLE


def test_datetimes_and_model_fields_convert_as_through_the_orm(users) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    old = AnnotationFactory(reader=users["reader1"], labels=labels(edema="positive"), status="submitted")
    Annotation.objects.filter(id=old.id).update(submitted_at=now - dt.timedelta(days=3))
    new = AnnotationFactory(reader=users["reader1"], labels=labels(edema="negative"), status="submitted")
    Annotation.objects.filter(id=new.id).update(submitted_at=now)
    query = CompiledQuery("test.submitted_before", lambda s: Annotation.objects.filter(
        reader_id=s.int("reader"), submitted_at__lte=s.datetime("before")).order_by("id"))
    assert [a.id for a in query.run(reader=users["reader1"].id, before=now - dt.timedelta(days=1))] == [old.id]
    got = query.run(reader=users["reader1"].id, before=now + dt.timedelta(days=1))
    assert [a.id for a in got] == [old.id, new.id]
    assert got[1].labels == Annotation.objects.get(id=new.id).labels  # the JSON field decoded as the ORM does
    assert isinstance(got[1].submitted_at, dt.datetime) and got[1].submitted_at.tzinfo is not None
    values = CompiledQuery("test.values", lambda s: Annotation.objects.filter(id=s.int("id")).values_list("id", "labels"))
    assert values.run(id=new.id) == list(Annotation.objects.filter(id=new.id).values_list("id", "labels"))


def test_a_parameter_computed_from_a_slot_is_not_kept(users) -> None:  # type: ignore[no-untyped-def]
    """A cutoff derived in Python from `now` would be frozen into kept SQL: refused, the ORM answers."""
    annotation = AnnotationFactory(reader=users["reader1"], labels=labels(), status="submitted")
    Annotation.objects.filter(id=annotation.id).update(submitted_at=timezone.now())
    query = CompiledQuery("test.derived", lambda s: Annotation.objects.filter(
        submitted_at__gte=s.datetime("now") - dt.timedelta(hours=1)))
    assert query.run(now=timezone.now()) == [annotation]
    assert _kept(query) is compiled_queries._UNCACHEABLE
    assert query.run(now=timezone.now() + dt.timedelta(hours=2)) == []


def test_a_shape_that_depends_on_the_values_is_not_kept(users) -> None:  # type: ignore[no-untyped-def]
    query = CompiledQuery("test.shape", lambda s: Report.objects.filter(id__in=list(range(s.int("n") % 3 + 1))))
    assert query.run(n=1) == list(Report.objects.filter(id__in=[0, 1]))
    assert _kept(query) is compiled_queries._UNCACHEABLE


def test_switched_off_every_call_goes_through_the_orm(users) -> None:  # type: ignore[no-untyped-def]
    report = ReportFactory()
    query = CompiledQuery("test.off", lambda s: Report.objects.filter(id=s.int("id")))
    compiled_queries.compiled_queries_enabled(False)
    try:
        assert query.run(id=report.id) == [report]
        assert _kept(query) is None
    finally:
        compiled_queries.compiled_queries_enabled(True)


def test_the_reader_hot_path_statements_are_kept(users, make_reports) -> None:  # type: ignore[no-untyped-def]
    """One read through the API (token authentication, next with the report, create-and-submit):
    every compiled statement on the way is kept, none fell back to the ORM."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    make_reports(3)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=users["reader1"]).key)
    with CaptureQueriesContext(connections["default"]) as ctx:
        nxt = client.post("/api/reports/next/?include=report")
    assert nxt.status_code == 200, nxt.content
    # Compiling runs nothing: no statement with a sentinel value reached the database.
    assert not [q["sql"] for q in ctx.captured_queries if "8123456" in q["sql"] or "slot0" in q["sql"]]
    done = client.post("/api/annotations/", {"report": nxt.json()["id"], "labels": NORMAL, "submit": True,
                                             "override_warnings": True}, format="json")
    assert done.status_code == 201, done.content
    kept = compiled_queries._by_connection.get(connections["default"], {})
    names = {name for name, _ in kept}
    assert {"accounts.token_with_user_and_roles", "annotator.reader_report_visible",
            "annotator.report_for_reader_write"} <= names
    fallen = sorted(name for (name, _), entry in kept.items() if entry is compiled_queries._UNCACHEABLE
                    and not name.startswith("test."))
    assert fallen == []
