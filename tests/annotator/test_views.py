"""Pages and JSON endpoints through Django's test client: access and blinding."""

from __future__ import annotations

import json

import pytest

from annotator import services
from annotator.models import Flag
from labeling.models import Annotation, GoldLabel
from labeling.selectors import runtime_settings_get
from tests.annotator.conftest import NORMAL
from tests.factories import labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def clients(client, settings_row, readers, adjudicator, make_user):  # type: ignore[no-untyped-def]
    from django.test import Client

    out = {}
    for user in [*readers, adjudicator, make_user("boss", "admin")]:
        c = Client()
        c.force_login(user)
        out[user.username] = c
    return out


def form(values: dict[str, str], **extra: str) -> dict[str, str]:
    from labeling.observations import OBSERVATIONS

    data = {f"obs-{o.slug}": values[o.value] for o in OBSERVATIONS}
    data.update(extra)
    return data


def test_home_sends_each_role_to_its_page(clients):
    assert clients["reader1"].get("/")["Location"] == "/queue/"
    assert clients["adj"].get("/")["Location"] == "/adjudicate/"
    assert clients["boss"].get("/").status_code == 200


def test_reader_flow_and_blinding_by_url(clients, readers, make_reports):
    r1, r2 = make_reports(2)
    c1, c2 = clients["reader1"], clients["reader2"]
    assert c1.post("/queue/next")["Location"] == f"/review/{r1.id}/"
    page = c1.get(f"/review/{r1.id}/")
    assert page.status_code == 200 and b'role="radiogroup"' in page.content
    # Reader 2 cannot open a report they were not given, nor reader 1's annotation.
    assert c2.get(f"/review/{r1.id}/").status_code == 404
    resp = c1.post(f"/review/{r1.id}/draft", json.dumps({"labels": {"Edema": "positive"}, "version": 0}), content_type="application/json")
    assert resp.status_code == 200 and resp.json()["version"] == 1
    stale = c1.post(f"/review/{r1.id}/draft", json.dumps({"labels": {}, "version": 0}), content_type="application/json")
    assert stale.status_code == 409
    mine = Annotation.objects.get(reader=readers[0])
    assert c2.get(f"/annotations/{mine.id}/").status_code == 404
    assert clients["adj"].get(f"/annotations/{mine.id}/").status_code == 404
    assert c1.get(f"/annotations/{mine.id}/").json()["labels"]["Edema"] == "positive"
    # Submitting goes straight to the next report.
    resp = c1.post(f"/review/{r1.id}/submit", form(NORMAL, version="1", time_spent="9.5"))
    assert resp["Location"] == f"/review/{r2.id}/"
    # The submitted page shows the reader's own labels only, no gold yet.
    page = c1.get(f"/review/{r1.id}/").content.decode()
    assert "Your read" in page and "Gold labels" not in page


def test_reader_never_sees_other_reads_before_or_after_gold(clients, readers, adjudicator, make_reports, settings):
    (report,) = make_reports(1)
    c1, c2 = clients["reader1"], clients["reader2"]
    c1.post("/queue/next")
    c2.post("/queue/next")
    c1.post(f"/review/{report.id}/submit", form(labels(edema="positive", lung_opacity="positive"), version="0"))
    c2.post(f"/review/{report.id}/submit", form(labels(edema="uncertain", lung_opacity="positive"), version="0"))
    page = c1.get(f"/review/{report.id}/").content.decode()
    assert 'value="uncertain" checked' not in page  # reader 2's value is nowhere in reader 1's page
    gold = services.gold_adjudicate(report=report, adjudicator=adjudicator, labels=labels(edema="uncertain", lung_opacity="positive"),
                                    rationale="edema equivocal", expected_current_gold_id=None)
    settings.CHEXGOLD_FEEDBACK_AFTER_HOURS = 0  # feedback due at once (access.gold_feedback_due)
    page = c1.get(f"/review/{report.id}/").content.decode()
    assert "Gold labels" in page and "Reader B" not in page and "reader2" not in page
    assert gold.is_current
    # A reader (even one who also adjudicates) cannot open the adjudication page of a report they read.
    assert c1.get(f"/adjudicate/{report.id}/").status_code == 403
    assert clients["adj"].get(f"/adjudicate/{report.id}/").status_code == 200


def test_submit_with_warnings_rerenders_then_override(clients, readers, make_reports):
    (report,) = make_reports(1)
    c1 = clients["reader1"]
    c1.post("/queue/next")
    bad = labels(no_finding="positive", edema="positive")
    resp = c1.post(f"/review/{report.id}/submit", form(bad, version="0"))
    assert resp.status_code == 200 and b"Check these before submitting" in resp.content
    assert not Annotation.objects.exists()
    resp = c1.post(f"/review/{report.id}/submit", form(bad, version="0", override="1"))
    assert resp.status_code == 302 and Annotation.objects.get().status == "submitted"


def test_flag_and_admin_resolution(clients, readers, make_reports):
    r1, r2 = make_reports(2)
    c1 = clients["reader1"]
    c1.post("/queue/next")
    resp = c1.post(f"/review/{r1.id}/flag", {"reason": "identifying", "note": "name in text"})
    assert resp["Location"] == f"/review/{r2.id}/"
    assert c1.get(f"/review/{r1.id}/").status_code == 404
    boss = clients["boss"]
    assert b"name in text" in boss.get("/manage/flags/").content
    flag = Flag.objects.get()
    boss.post("/manage/flags/", {"flag_id": flag.id, "resolution": "keep"})
    flag.refresh_from_db()
    assert flag.resolution == "keep"


def test_adjudication_conflict_answers_409(clients, readers, adjudicator, make_user, make_reports):
    (report,) = make_reports(1)
    for user in readers[:2]:
        services.next_report_assign(reader=user)
    services.annotation_submit(reader=readers[0], report=report, labels=NORMAL, expected_version=0)
    services.annotation_submit(reader=readers[1], report=report, labels=labels(fracture="positive"), expected_version=0)
    adj = clients["adj"]
    assert b"Reader A" in adj.get("/adjudicate/").content or adj.get("/adjudicate/").status_code == 200
    services.gold_adjudicate(report=report, adjudicator=make_user("adj2", "adjudicator"), labels=NORMAL, rationale="normal", expected_current_gold_id=None)
    resp = adj.post(f"/adjudicate/{report.id}/", form(labels(fracture="positive"), expected_gold="", rationale="x"))
    assert resp.status_code == 409 and GoldLabel.objects.count() == 1


def test_admin_pages_need_admin(clients):
    for url in ("/manage/users/", "/manage/settings/", "/manage/gold-versions/", "/manage/flags/", "/manage/guidelines/"):
        assert clients["reader1"].get(url).status_code == 403
        assert clients["boss"].get(url).status_code == 200


def test_admin_settings_users_guidelines_gold_versions(clients, readers):
    boss = clients["boss"]
    resp = boss.post("/manage/settings/", {"reads_per_report": 3, "reservation_minutes": 15, "queue_order": "random",
                                           "auto_gold": "on", "prefill": "none", "anonymise_readers": "on"})
    assert resp.status_code == 302
    from labeling.selectors import runtime_settings_get

    assert runtime_settings_get().reads_per_report == 3 and runtime_settings_get().prefill == "none"
    boss.post("/manage/users/", {"action": "create", "username": "newbie", "password": "long-enough-pw", "role": "reader"})
    from django.contrib.auth import get_user_model

    newbie = get_user_model().objects.get(username="newbie")
    boss.post("/manage/users/", {"action": "add_role", "user_id": newbie.id, "role": "adjudicator"})
    assert set(newbie.groups.values_list("name", flat=True)) == {"reader", "adjudicator"}
    boss.post("/manage/guidelines/", {"observation": "Edema", "text": "New edema rule"})
    assert b"version 1" in boss.get("/manage/guidelines/").content
    boss.post("/manage/gold-versions/", {"name": "v1"})
    boss.post("/manage/gold-versions/", {"name": "v2"})
    assert boss.get("/manage/gold-versions/compare?a=v1&b=v2").status_code == 200


def test_independent_first_read_hides_machine_labels(clients, readers, make_reports):

    prefill_row = runtime_settings_get()
    prefill_row.prefill = "none"
    prefill_row.save()
    (report,) = make_reports(1)
    c1 = clients["reader1"]
    c1.post("/queue/next")
    page = c1.get(f"/review/{report.id}/").content.decode()
    assert "Commit first read" in page and "Rules</span>" not in page
    resp = c1.post(f"/review/{report.id}/first-read", form(labels(no_finding="negative"), version="0"))
    assert resp.status_code == 302
    page = c1.get(f"/review/{report.id}/").content.decode()
    assert "Rules</span>" in page and "Commit first read" not in page
    assert Annotation.objects.get().first_read_labels == labels(no_finding="negative")
