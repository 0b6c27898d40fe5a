"""quality.statistics: gathering, role filtering, caching, CSV export, the page and the command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score, f1_score

from labeling.models import Annotation, GoldSetMembership, GoldSetVersion, Report
from quality.metrics import label_codes
from quality.statistics import statistics_cache_clear, statistics_for_user, statistics_get, statistics_tables, table_csv
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, labels
from tests.statistics_helpers import statistics_ready

pytestmark = pytest.mark.django_db
EFF = "Pleural Effusion"
RESAMPLES = 200  # keep the tests fast; the page uses 1000
# Reads submitted two days ago: their gold is released to their readers (feedback batches, labeling.selectors).
READ_AT = timezone.now() - dt.timedelta(days=2)


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    # Stamps repeat across rolled-back tests (same counts, reused ids): start each test empty.
    statistics_cache_clear()
    yield
    statistics_cache_clear()


# Reader values for Pleural Effusion on 8 reports; gold = reader 1 except report 7.
R1 = ["positive", "negative", "uncertain", "blank", "positive", "negative", "negative", "positive"]
R2 = ["positive", "negative", "positive", "blank", "negative", "negative", "uncertain", "positive"]
GOLD = ["positive", "negative", "uncertain", "blank", "positive", "negative", "negative", "negative"]
RULES = ["positive", "uncertain", "uncertain", "negative", "positive", "blank", "negative", "positive"]


@pytest.fixture
def session(make_user):  # type: ignore[no-untyped-def]
    """Two readers, an adjudicator, an admin, a reader with no reads; 8 gold reports, rule + 2 model predictions."""
    users = {
        "ann": make_user("ann", "reader"), "bob": make_user("bob", "reader"), "cat": make_user("cat", "reader"),
        "adj": make_user("adj", "adjudicator"), "boss": make_user("boss", "admin"),
    }
    v1, v2 = ModelVersionFactory(name="m1"), ModelVersionFactory(name="m2")
    reports = []
    for i in range(8):
        report = ReportFactory(gold_split="validation" if i < 4 else "train")
        reports.append(report)
        AnnotationFactory(report=report, reader=users["ann"], labels=labels(pleural_effusion=R1[i]), status="submitted",
                          submitted_at=READ_AT)
        AnnotationFactory(report=report, reader=users["bob"], labels=labels(pleural_effusion=R2[i], edema="positive" if i % 2 else "blank"),
                          status="submitted", submitted_at=READ_AT)
        GoldLabelFactory(report=report, labels=labels(pleural_effusion=GOLD[i]))
        RulePredictionFactory(report=report, source_version="1.1", labels=labels(pleural_effusion=RULES[i]))
        for mv, values in ((v1, R2), (v2, GOLD)):
            RulePredictionFactory(report=report, source="model", source_version=mv.name, model_version=mv,
                                  labels=labels(pleural_effusion=values[i]))
    # A read of a report without gold (waiting for adjudication) counts for agreement only.
    pending = ReportFactory()
    AnnotationFactory(report=pending, reader=users["ann"], labels=labels(pleural_effusion="positive"), status="submitted",
                      submitted_at=READ_AT)
    AnnotationFactory(report=pending, reader=users["bob"], labels=labels(pleural_effusion="negative"), status="submitted",
                      submitted_at=READ_AT)
    # Drafts never count.
    AnnotationFactory(report=ReportFactory(), reader=users["cat"], labels=labels(pleural_effusion="positive"))
    return users


def _obs(rows: list[dict], name: str = EFF) -> dict:
    return next(r for r in rows if r["observation"] == name)


def test_pair_kappa_and_labeler_scores_match_sklearn(session) -> None:  # type: ignore[no-untyped-def]
    stats = statistics_get(n_resamples=RESAMPLES)
    (pair,) = stats["pairs"]
    assert {pair["reader_a"], pair["reader_b"]} == {"ann", "bob"} and pair["n"] == 9
    expected = cohen_kappa_score(R1 + ["positive"], R2 + ["negative"])
    assert _obs(pair["observations"])["kappa"]["value"] == pytest.approx(expected)
    assert _obs(stats["agreement"]["observations"])["cohen_kappa_mean"]["value"] == pytest.approx(expected)
    rules = next(lab for lab in stats["labelers"] if lab["kind"] == "rules")
    eff = _obs(rules["observations"])
    assert eff["kappa"]["value"] == pytest.approx(cohen_kappa_score(GOLD, RULES))
    assert eff["weighted_f1"]["value"] == pytest.approx(
        f1_score(GOLD, RULES, labels=["positive", "negative", "uncertain"], average="weighted", zero_division=0))
    assert eff["confusion"][0] == [2, 0, 0, 0]  # gold positive: rules positive twice
    perfect = next(lab for lab in stats["labelers"] if lab["name"] == "Model m2")
    assert _obs(perfect["observations"])["weighted_f1"]["value"] == pytest.approx(1.0)
    assert [t["name"] for t in stats["trend"]] == ["Model m1", "Model m2"]
    # No Finding has no non-blank gold: weighted F1 undefined (None), not 0.
    assert _obs(rules["observations"], "No Finding")["weighted_f1"]["value"] is None


def test_reader_against_gold(session) -> None:  # type: ignore[no-untyped-def]
    stats = statistics_get(n_resamples=RESAMPLES)
    bob = next(r for r in stats["readers"] if r["reader"] == "bob")
    eff = _obs(bob["observations"])
    g, b = np.array(GOLD) == "positive", np.array(R2) == "positive"
    assert eff["n"] == 8 and bob["n"] == 8 and bob["overall"]["n"] == 8  # reports, not report x observation
    assert stats["agreement"]["overall"]["n"] == 9  # 8 gold + 1 pending, read twice
    assert eff["sensitivity"]["value"] == pytest.approx((g & b).sum() / g.sum())
    assert eff["specificity"]["value"] == pytest.approx((~g & ~b).sum() / (~g).sum())
    assert eff["agreement"]["value"] == pytest.approx(np.mean(np.array(GOLD) == np.array(R2)))
    assert "cat" not in {r["reader"] for r in stats["readers"]}  # only a draft


def test_mapping_collapse(session) -> None:  # type: ignore[no-untyped-def]
    ones = statistics_get(mapping="u-ones", n_resamples=RESAMPLES)
    zeros = statistics_get(mapping="u-zeros", n_resamples=RESAMPLES)
    assert ones["mapping"]["categories"] == ["positive", "negative"]
    collapse_ones = {"positive": 1, "uncertain": 1, "negative": 0, "blank": 0}
    collapse_zeros = {"positive": 1, "uncertain": 0, "negative": 0, "blank": 0}
    for stats, table in ((ones, collapse_ones), (zeros, collapse_zeros)):
        rules = next(lab for lab in stats["labelers"] if lab["kind"] == "rules")
        eff = _obs(rules["observations"])
        g, p = [table[v] for v in GOLD], [table[v] for v in RULES]
        assert eff["kappa"]["value"] == pytest.approx(cohen_kappa_score(g, p))
        assert eff["weighted_f1"]["value"] == pytest.approx(f1_score(g, p, labels=[1, 0], average="weighted", zero_division=0))
        assert len(eff["confusion"]) == 2
    codes = label_codes([labels(pleural_effusion="uncertain")], "u-ones")
    assert codes[0, list(labels()).index(EFF)] == 0  # positive


def test_gold_split_and_version_scope(session) -> None:  # type: ignore[no-untyped-def]
    val = statistics_get(split="validation", n_resamples=RESAMPLES)
    assert val["counts"]["gold_reports"] == 4
    assert val["counts"]["read_reports"] == 4  # the pending report is outside a split
    version = GoldSetVersion.objects.create(name="v-2024")
    for report in Report.objects.filter(gold_split="train")[:3]:
        GoldSetMembership.objects.create(version=version, report=report, gold_label=report.gold_labels.get(is_current=True))
    frozen = statistics_get(gold_version="v-2024", n_resamples=RESAMPLES)
    assert frozen["counts"]["gold_reports"] == 3 and frozen["query"]["gold_version"] == "v-2024"
    with pytest.raises(ValueError, match="gold-set version"):
        statistics_get(gold_version="nope")
    with pytest.raises(ValueError, match="split"):
        statistics_get(split="test")


def test_visibility_by_role(session) -> None:  # type: ignore[no-untyped-def]
    for who in ("adj", "boss"):
        stats = statistics_for_user(user=session[who])
        assert {r["reader"] for r in stats["readers"]} == {"ann", "bob"} and len(stats["pairs"]) == 1
    ann = statistics_for_user(user=session["ann"])
    assert [r["reader"] for r in ann["readers"]] == ["ann"] and ann["pairs"] == []
    text = json.dumps(ann)
    assert "bob" not in text  # never another reader's name or figures
    assert statistics_for_user(user=session["cat"])["readers"] == []
    # Agreement between readers is for adjudicators and admins (a reader could
    # otherwise diff it around their own submit and infer the other read).
    assert ann["agreement"] is None and statistics_for_user(user=session["adj"])["agreement"] is not None


def test_cache_hit_and_invalidation_when_a_label_changes(session) -> None:  # type: ignore[no-untyped-def]
    first = statistics_get(n_resamples=RESAMPLES)
    assert first["from_cache"] is False
    again = statistics_get(n_resamples=RESAMPLES)
    assert again["from_cache"] is True and again["agreement"] == first["agreement"]
    annotation = Annotation.objects.get(reader=session["bob"], report=Report.objects.order_by("id")[4])
    annotation.labels = labels(pleural_effusion="positive")  # now agrees with ann
    annotation.save()
    changed = statistics_get(n_resamples=RESAMPLES)
    assert changed["from_cache"] is False
    assert _obs(changed["pairs"][0]["observations"])["kappa"]["value"] > _obs(first["pairs"][0]["observations"])["kappa"]["value"]
    # A new gold label, a prediction and a flag each invalidate too.
    GoldLabelFactory(report=Report.objects.get(annotations__reader=session["cat"]), labels=labels())
    assert statistics_get(n_resamples=RESAMPLES)["from_cache"] is False
    Report.objects.filter(id=Report.objects.order_by("id")[0].id).update(is_flagged=True)
    flagged = statistics_get(n_resamples=RESAMPLES)
    assert flagged["from_cache"] is False and flagged["counts"]["gold_reports"] == 8  # 9 gold, 1 flagged


def test_page_serves_recent_figures_while_labels_change(session) -> None:  # type: ignore[no-untyped-def]
    first = statistics_get(n_resamples=RESAMPLES)
    AnnotationFactory(report=ReportFactory(), reader=session["cat"], labels=labels(edema="positive"), status="submitted")
    stale = statistics_get(n_resamples=RESAMPLES, max_stale_seconds=60)
    assert stale["stale"] is True and stale["counts"] == first["counts"]
    fresh = statistics_get(n_resamples=RESAMPLES)
    assert fresh["stale"] is False and fresh["counts"]["reads"] == first["counts"]["reads"] + 1
    assert statistics_get(n_resamples=RESAMPLES, max_stale_seconds=60)["stale"] is False  # current again


def test_no_gold_and_one_reader(make_user) -> None:  # type: ignore[no-untyped-def]
    solo = make_user("solo", "reader")
    AnnotationFactory(reader=solo, labels=labels(edema="positive"), status="submitted")
    stats = statistics_get(n_resamples=RESAMPLES)
    assert stats["counts"] == {"gold_reports": 0, "read_reports": 1, "reads": 1, "readers": 1, "labelers": 0}
    assert stats["pairs"] == [] and stats["readers"] == [] and stats["labelers"] == []
    assert stats["agreement"]["overall"]["n"] == 0
    assert stats["agreement"]["overall"]["fleiss_kappa"] == {"value": None, "low": None, "high": None}
    assert [t.slug for t in statistics_tables(stats=stats)] == ["agreement"]
    json.dumps(stats)  # JSON-ready: no NaN, no numpy types


def test_csv_export_of_every_table(client, session) -> None:  # type: ignore[no-untyped-def]
    client.force_login(session["adj"])
    statistics_ready(session["adj"])
    stats = statistics_for_user(user=session["adj"])
    tables = statistics_tables(stats=stats)
    assert {t.slug for t in tables} >= {"agreement", "pairs", "readers", "labelers", "labeler-weighted-f1", "labeler-detail",
                                        "confusion", "trend"}
    page = client.get(reverse("statistics:dashboard"))
    assert page.status_code == 200
    for table in tables:
        url = reverse("statistics:table_csv", args=[table.slug])
        assert url in page.content.decode()  # a download link per table
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response.content.decode() == table_csv(table)
    rows = list(csv.reader(io.StringIO(client.get(reverse("statistics:table_csv", args=["pairs"])).content.decode())))
    assert rows[0][:6] == ["Reader A", "Reader B", "Reports", "κ (all observations)", "κ (all observations) 95% CI low",
                           "κ (all observations) 95% CI high"]
    assert float(rows[1][3 + 3 * (1 + list(labels()).index(EFF))]) == pytest.approx(
        cohen_kappa_score(R1 + ["positive"], R2 + ["negative"]))
    assert client.get(reverse("statistics:table_csv", args=["nope"])).status_code == 404


def test_page_access_and_reader_view(client, session, make_user) -> None:  # type: ignore[no-untyped-def]
    url = reverse("statistics:dashboard")
    assert client.get(url).status_code == 302  # login
    client.force_login(make_user("norole"))
    assert client.get(url).status_code == 403
    client.force_login(session["ann"])
    statistics_ready(session["ann"], mapping="u-zeros", split="validation")
    statistics_ready(session["ann"])
    page = client.get(url + "?mapping=u-zeros&split=validation")
    body = page.content.decode()
    assert page.status_code == 200 and "U-Zeros" in body and "bob" not in body
    assert client.get(reverse("statistics:table_csv", args=["pairs"])).status_code == 404  # not visible to readers
    readers_csv = client.get(reverse("statistics:table_csv", args=["readers"])).content.decode()
    assert "ann" in readers_csv and "bob" not in readers_csv
    assert client.get(url + "?mapping=bogus").status_code == 400


def test_command(session, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("statistics", "--mapping", "u-ones", "--split", "all", "--resamples", "50")
    out = capsys.readouterr().out
    assert "Agreement between readers" in out and "Rule labeler 1.1" in out and "U-Ones" in out
    call_command("statistics", "--json", "--resamples", "50")
    data = json.loads(capsys.readouterr().out)
    assert data["query"]["mapping"] == "full" and data["counts"]["gold_reports"] == 8
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="gold-set version"):
        call_command("statistics", "--gold-version", "missing")
