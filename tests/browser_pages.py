"""Shared by the page-wide browser tests (accessibility, polish): a small world
with every kind of page populated, the user of each role, and the chexgold
pages enumerated from the URL conf."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from labeling.observations import OBSERVATIONS

PASSWORD = "correct-horse-42"
# The roles of issue #17: each role alone, and a reader who also adjudicates.
ROLE_USERS = {"reader": ("reader",), "adjudicator": ("adjudicator",), "admin": ("admin",), "both": ("reader", "adjudicator")}
# Not chexgold pages: Django's admin and the API (with its docs); logging out ends the session.
EXCLUDED_PREFIXES = ("admin/", "api/", "accounts/logout/")

TEXT = "FINDINGS: Small left pleural effusion. Heart size is normal.\n\nIMPRESSION:  Small effusion.\n"


def page_world(make_user: Any) -> dict[str, Any]:
    """Reports with rule and model labels, two disagreeing reads (an adjudication
    item), a flag, and one user per role (password PASSWORD). Returns the ids the
    URL patterns take."""
    from annotator import services
    from labeling.models import MachinePrediction, RuntimeSettings
    from labeling.selectors import runtime_settings_get
    from labeling.services.report_import import _sections_for_storage
    from tests.factories import ModelVersionFactory, ReportFactory, labels

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, True
    row.save()
    users = {name: make_user(name, *roles) for name, roles in ROLE_USERS.items()}
    first_readers = [make_user("reader-a", "reader"), make_user("reader-b", "reader")]
    version = ModelVersionFactory(is_active=True)
    reports = [ReportFactory(external_id=f"CXR-{i:04d}", text=TEXT, sections=_sections_for_storage(TEXT)) for i in range(1, 4)]
    for report in reports:
        MachinePrediction.objects.create(report=report, source="rules", source_version="rules-1",
                                         labels=labels(pleural_effusion="positive", cardiomegaly="negative"))
        MachinePrediction.objects.create(
            report=report, source="model", source_version=version.name, model_version=version,
            labels=labels(pleural_effusion="uncertain", cardiomegaly="negative"),
            probabilities={o.value: {"positive": 0.1, "negative": 0.1, "uncertain": 0.8, "blank": 0.0} for o in OBSERVATIONS},
        )
    disputed = reports[0]
    annotation_ids = []
    for reader, value in zip(first_readers, ("positive", "negative"), strict=True):
        services.next_report_assign(reader=reader)
        result = services.annotation_submit(reader=reader, report=disputed, labels=labels(pleural_effusion=value),
                                            expected_version=0, override_warnings=True)
        assert result.annotation is not None
        annotation_ids.append(result.annotation.id)
    for name in ("reader", "both"):  # each holds the second report, open on its review page
        services.next_report_assign(reader=users[name])
    services.report_flag(report=reports[2], user=first_readers[0], reason="not_cxr", note="a CT report")
    return {"users": users, "report_ids": [r.id for r in reports], "annotation_ids": annotation_ids}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def chexgold_page_paths(world: dict[str, Any]) -> list[list[str]]:
    """Every URL of the URL conf outside EXCLUDED_PREFIXES, each as candidate paths
    (one per id its parameters may take); the caller keeps those that answer HTML."""
    ids = {"report_id": world["report_ids"], "annotation_id": world["annotation_ids"]}
    pages = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(EXCLUDED_PREFIXES) or "." in route.rsplit("/", 1)[-1]:
            continue  # no admin/API; no .csv/.ico downloads
        params = list(pattern.pattern.converters)
        if any(p not in ids for p in params):
            continue  # status endpoints of jobs (JSON) and POST-only actions on them
        candidates = [route]
        for param in params:
            candidates = [c.replace(f"<int:{param}>", str(v)) for c in candidates for v in ids[param]]
        pages.append(["/" + c for c in candidates])
    return pages


def login(browser: Any, live_server: Any, username: str, **context: Any) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 900}, **context).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page
