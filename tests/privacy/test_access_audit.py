"""The report-access audit: append-only (model, queryset, admin, PostgreSQL
trigger), compact id storage, client address, and the admin page and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection, transaction
from django.test import Client, RequestFactory

from privacy.models import AppendOnlyError, ReportAccess
from privacy.services.access_audit import (
    report_access_record,
    report_ids_compact,
    report_ids_contain,
    report_ids_expand,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def row(make_user) -> ReportAccess:  # type: ignore[no-untyped-def]
    return report_access_record(user=make_user("reader1", "reader"), report_ids=[7], channel="annotator:review", request=None)


def test_model_refuses_update_and_delete(row: ReportAccess) -> None:
    row.channel = "edited"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    assert ReportAccess.objects.get(id=row.id).channel == "annotator:review"


def test_queryset_refuses_update_and_delete(row: ReportAccess) -> None:
    with pytest.raises(AppendOnlyError):
        ReportAccess.objects.filter(id=row.id).update(channel="edited")
    with pytest.raises(AppendOnlyError):
        ReportAccess.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        ReportAccess.objects.bulk_update([row], ["channel"])
    assert ReportAccess.objects.count() == 1


def test_admin_has_no_add_change_or_delete(row: ReportAccess, make_user) -> None:  # type: ignore[no-untyped-def]
    from django.contrib import admin

    superuser = make_user("root")
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    model_admin = admin.site._registry[ReportAccess]
    request = RequestFactory().get("/admin/")
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    client = Client()
    client.force_login(superuser)
    assert client.get("/admin/privacy/reportaccess/").status_code == 200  # browsable
    assert client.get("/admin/privacy/reportaccess/add/").status_code == 403
    assert client.post(f"/admin/privacy/reportaccess/{row.id}/delete/", {"post": "yes"}).status_code == 403
    assert ReportAccess.objects.filter(id=row.id).exists()


@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
def test_postgresql_trigger_refuses_raw_update_and_delete(make_user) -> None:  # type: ignore[no-untyped-def]
    from django.db import DatabaseError

    assert connection.vendor == "postgresql"
    entry = report_access_record(user=make_user("reader1", "reader"), report_ids=[1], channel="x", request=None)
    for sql in ("UPDATE labeling_reportaccess SET channel = 'y' WHERE id = %s", "DELETE FROM labeling_reportaccess WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [entry.id])
    assert ReportAccess.objects.get(id=entry.id).channel == "x"


def test_ids_are_stored_as_ranges() -> None:
    ids = [*range(1, 50_001), 50_003, *range(60_000, 60_010)]
    compact = report_ids_compact(reversed(ids))
    assert compact == "1-50000,50003,60000-60009"
    assert report_ids_expand(compact) == ids
    assert report_ids_contain(compact, 50_003) and not report_ids_contain(compact, 50_002)
    assert report_ids_compact([]) == ""


def test_admin_page_filters_and_exports_csv(make_user) -> None:  # type: ignore[no-untyped-def]
    r1, r2 = make_user("reader1", "reader"), make_user("reader2", "reader")
    report_access_record(user=r1, report_ids=[111], channel="annotator:review", request=None)
    report_access_record(user=r2, report_ids=[112], channel="api:report_detail", request=None)
    report_access_record(user=r2, report_ids=range(1, 100), channel="api:gold_export", request=None)
    boss = make_user("boss", "admin")
    client = Client()
    client.force_login(boss)
    page = client.get("/privacy/access-log/", {"user": "reader2"})
    assert page.status_code == 200
    rows = list(page.context["page"])
    assert [r.channel for r in rows] == ["api:gold_export", "api:report_detail"]
    by_report = list(client.get("/privacy/access-log/", {"report": "111"}).context["page"])
    assert [r.username for r in by_report] == ["reader1"]
    in_export = list(client.get("/privacy/access-log/", {"report": "50"}).context["page"])
    assert [r.channel for r in in_export] == ["api:gold_export"]
    by_channel = list(client.get("/privacy/access-log/", {"channel": "annotator:review"}).context["page"])
    assert len(by_channel) == 1
    today = dt.date.today()
    assert client.get("/privacy/access-log/", {"from": str(today + dt.timedelta(days=1))}).context["page"].paginator.count == 0
    assert client.get("/privacy/access-log/", {"from": str(today), "to": str(today)}).context["page"].paginator.count == 3
    response = client.get("/privacy/access-log.csv", {"user": "reader2"})
    body = response.getvalue().decode()
    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == ["at", "user_id", "username", "channel", "method", "path", "ip", "report_count", "report_ids"]
    assert [(r[2], r[3], r[7], r[8]) for r in table[1:]] == [("reader2", "api:gold_export", "99", "1-99"),
                                                            ("reader2", "api:report_detail", "1", "112")]
    # Viewing the audit is admin-only.
    reader = Client()
    reader.force_login(r1)
    assert reader.get("/privacy/access-log/").status_code == 403
    assert reader.get("/privacy/access-log.csv").status_code == 403


def test_report_list_shows_no_text_and_patient_fields_only_to_admins(make_user) -> None:  # type: ignore[no-untyped-def]
    import datetime as _dt

    from tests.factories import ReportFactory

    ReportFactory(patient_id="P123", study_date=_dt.date(2021, 3, 14), text="FINDINGS: PHIMARK-list. Normal.")
    for name, role, expect_patient in (("adj", "adjudicator", None), ("boss", "admin", "P123")):
        client = Client()
        client.force_login(make_user(name, role))
        before = ReportAccess.objects.count()
        response = client.get("/api/reports/")
        assert b"PHIMARK" not in response.content  # lists never carry text ...
        assert ReportAccess.objects.count() == before  # ... so they are not audited
        [row] = response.json()["results"]
        assert row["patient_id"] == expect_patient
        assert (row["study_date"] is None) == (expect_patient is None)


def test_export_commands_are_audited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    from tests.factories import GoldLabelFactory, RulePredictionFactory

    gold = GoldLabelFactory()
    RulePredictionFactory(report=gold.report, source_version="rules-test")
    call_command("export_gold", "--output", str(tmp_path / "gold.csv"), stdout=io.StringIO())
    row = ReportAccess.objects.latest("id")
    assert (row.channel, row.user_id, row.report_ids, row.ip) == ("command:export_gold", None, str(gold.report_id), None)
