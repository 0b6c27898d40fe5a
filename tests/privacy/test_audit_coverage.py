"""Every page or endpoint that shows a report's text writes an audit row.

The walk GETs every URL pattern of the project (admin site and schema pages
aside) as a reader, an adjudicator and an admin, with each report id in turn;
any response that contains a report's text (each text carries a marker) must
have added a `ReportAccess` row for that user and report. A new view that shows
text without calling `report_access_record` fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from labeling.models import Annotation, RuntimeSettings
from labeling.selectors import runtime_settings_get
from privacy.models import ReportAccess
from privacy.services.access_audit import report_ids_expand
from tests.factories import AnnotationFactory, GoldLabelFactory, ReportFactory, RulePredictionFactory, labels

pytestmark = pytest.mark.django_db

SKIP_NAMESPACES = {"admin"}  # Django's admin site: no report model is registered there
SKIP_NAMES = {"api:schema", "api:docs", "api:redoc", "logout"}  # no report data; schema generation is slow
MARKER = re.compile(rb"PHIMARK(\d+)Z")

# The views known to show text: the walk must find each of them (guards the fixture).
EXPECTED_TEXT_VIEWS = {
    "annotator:review", "annotator:adjudicate", "annotator:manage_flags", "labeling:gold_export",
    "api:report_detail", "api:adjudication_detail", "api:gold_export", "api:predictions_export",
}


def _walk(patterns: list, prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str, list[str]]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if ns in SKIP_NAMESPACES:
                continue
            full_ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else ns
            yield from _walk(p.url_patterns, prefix, full_ns)
        elif isinstance(p, URLPattern) and p.name:
            name = f"{namespace}:{p.name}" if namespace else p.name
            converters = getattr(p.pattern, "converters", {}) or {}
            yield name, list(converters)


@pytest.fixture
def world(make_user):  # type: ignore[no-untyped-def]
    from annotator import services

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, False
    row.save()
    reader1, reader2, reader3 = (make_user(f"reader{i}", "reader") for i in (1, 2, 3))
    adjudicator, admin = make_user("adj", "adjudicator"), make_user("boss", "admin")
    reports = [ReportFactory(text=f"FINDINGS: Heart normal PHIMARK{i}Z.\nIMPRESSION: No acute disease.") for i in range(4)]
    for r in reports:
        RulePredictionFactory(report=r, labels=labels(no_finding="positive"))
    review_r, adj_r, gold_r, flag_r = reports
    assert services.next_report_assign(reader=reader1).id == review_r.id
    own = AnnotationFactory(report=review_r, reader=reader1)
    AnnotationFactory(report=adj_r, reader=reader2, labels=labels(edema="positive"), status=Annotation.Status.SUBMITTED)
    AnnotationFactory(report=adj_r, reader=reader3, labels=labels(no_finding="positive"), status=Annotation.Status.SUBMITTED)
    GoldLabelFactory(report=gold_r)
    services.report_flag(report=flag_r, user=admin, reason="identifying")
    ids = {"annotation_id": own.id, "batch_id": 1, "run_id": 1, "version_id": 1, "task_id": "import-1", "user_id": reader1.pk, "slug": "agreement"}
    return {"users": [reader1, adjudicator, admin], "reports": reports, "ids": ids}


def _urls(world) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    for name, params in _walk(get_resolver().url_patterns):
        if name in SKIP_NAMES:
            continue
        if "report_id" in params:
            for r in world["reports"]:
                kwargs = {k: (r.id if k == "report_id" else world["ids"][k]) for k in params}
                yield name, reverse(name, kwargs=kwargs)
        else:
            yield name, reverse(name, kwargs={k: world["ids"][k] for k in params})


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_every_view_that_shows_report_text_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    id_by_marker = {str(i): r.id for i, r in enumerate(world["reports"])}
    showing: set[str] = set()
    unaudited: list[str] = []
    for user in world["users"]:
        client = Client()
        client.force_login(user)
        for name, url in _urls(world):
            before = ReportAccess.objects.count()
            body = _body(client.get(url))
            shown = {id_by_marker[m.decode()] for m in MARKER.findall(body)}
            if not shown:
                continue
            showing.add(name)
            new = list(ReportAccess.objects.order_by("id")[before:])
            audited: set[int] = set()
            for row in new:
                if row.user_id == user.pk and row.username == user.username:
                    audited.update(report_ids_expand(row.report_ids))
            if not shown <= audited:
                unaudited.append(f"{user.username} GET {url} ({name}) showed reports {sorted(shown)}, audited {sorted(audited)}")
    assert not unaudited, "views showing report text without an audit row:\n" + "\n".join(unaudited)
    assert EXPECTED_TEXT_VIEWS <= showing, f"the walk did not reach: {sorted(EXPECTED_TEXT_VIEWS - showing)}"


def test_audit_row_records_who_what_where_and_channel(world) -> None:  # type: ignore[no-untyped-def]
    reader1 = world["users"][0]
    review_r = world["reports"][0]
    client = Client(REMOTE_ADDR="10.1.2.3")
    client.force_login(reader1)
    assert client.get(reverse("annotator:review", args=[review_r.id])).status_code == 200
    row = ReportAccess.objects.latest("id")
    assert (row.user_id, row.username, row.channel, row.report_id, row.report_count, row.ip) == (
        reader1.pk, "reader1", "annotator:review", review_r.id, 1, "10.1.2.3")
    assert row.path == f"/review/{review_r.id}/" and row.method == "GET"


def test_export_records_count_and_ids(world) -> None:  # type: ignore[no-untyped-def]
    admin = world["users"][2]
    client = Client()
    client.force_login(admin)
    _body(client.get("/api/predictions/export/"))
    row = ReportAccess.objects.latest("id")
    assert row.channel == "api:predictions_export" and row.report_count == 4 and row.report_id is None
    assert report_ids_expand(row.report_ids) == sorted(r.id for r in world["reports"])


def test_someone_elses_report_is_not_shown_and_not_audited(world) -> None:  # type: ignore[no-untyped-def]
    reader1 = world["users"][0]
    client = Client()
    client.force_login(reader1)
    before = ReportAccess.objects.count()
    assert client.get(reverse("annotator:review", args=[world["reports"][3].id])).status_code == 404
    assert ReportAccess.objects.count() == before
