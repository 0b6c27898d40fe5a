"""Withdrawing an import batch (`annotator.services.gold.import_batch_withdraw`,
`labeling.services.withdraw`, POST /api/imports/<id>/withdraw/, the Imports
page's button): its reports leave the queues, statistics and exports; their gold
stays in the history and earlier versions but a new gold-set version leaves them
out; model versions trained on them (gold, silver, fine-tuned from those) say so;
audited; admins only. And the undo (`import_batch_restore`, POST
/api/imports/<id>/restore/, the Restore button): the reports and their gold come
back in a new gold-set version, the cards note it, nothing is deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.services import gold_set_version_freeze, import_batch_restore, import_batch_withdraw, next_report_assign
from api.errors import NotFound
from labeling.audit import AuditLog
from labeling.models import GoldLabel, GoldSetMembership, GoldSetVersion, ImportBatch, MachinePrediction, Report, Reservation
from labeling.selectors import gold_labels_for_export, predictions_for_export
from labeling.services.withdraw import ImportWithdrawError
from ml_worker.models import TrainingRun
from quality.statistics import statistics_cache_clear, statistics_get
from tests.factories import GoldLabelFactory, ModelVersionFactory, ReportFactory, RulePredictionFactory, labels

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


@pytest.fixture
def world(make_user, settings_row):  # type: ignore[no-untyped-def]
    """Two finished batches of two reports each; one report of each is gold; a
    model version trained on the first batch's gold."""
    admin = make_user("boss", "admin")
    kept = ImportBatch.objects.create(filename="kept.csv", status=ImportBatch.Status.SUCCEEDED)
    gone = ImportBatch.objects.create(filename="gone.csv", status=ImportBatch.Status.SUCCEEDED)
    reports = {b.filename: [ReportFactory(import_batch=b) for _ in range(2)] for b in (kept, gone)}
    for rs in reports.values():
        for r in rs:
            RulePredictionFactory(report=r, source_version="rules-1", labels=labels(no_finding="positive"))
    gold = {name: GoldLabelFactory(report=rs[0], labels=labels(edema="positive")) for name, rs in reports.items()}
    before = gold_set_version_freeze(name="before", user=admin)
    trained = ModelVersionFactory(name="gold-1")
    untouched = ModelVersionFactory(name="gold-2")
    run = TrainingRun.objects.create(stage=TrainingRun.Stage.GOLD, status=TrainingRun.Status.SUCCEEDED, produced_version=trained)
    run.gold_labels.add(gold["gone.csv"], gold["kept.csv"])
    other = TrainingRun.objects.create(stage=TrainingRun.Stage.GOLD, status=TrainingRun.Status.SUCCEEDED, produced_version=untouched)
    other.gold_labels.add(gold["kept.csv"])
    return {"admin": admin, "kept": kept, "gone": gone, "reports": reports, "gold": gold, "before": before,
            "trained": trained, "untouched": untouched}


def test_withdrawn_reports_leave_the_queue(world, make_user) -> None:  # type: ignore[no-untyped-def]
    # Sequential queue: the kept batch's open report comes first, until that batch is withdrawn.
    first, second = world["reports"]["kept.csv"][1], world["reports"]["gone.csv"][1]
    assert next_report_assign(reader=make_user("r0", "reader")) == first
    import_batch_withdraw(batch_id=world["kept"].id, user=world["admin"])
    reader = make_user("r1", "reader")
    assert next_report_assign(reader=reader) == second
    Reservation.objects.filter(reader=reader).delete()
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    assert next_report_assign(reader=reader) is None


def test_statistics_and_exports_leave_them_out(world) -> None:  # type: ignore[no-untyped-def]
    statistics_cache_clear()
    assert statistics_get(n_resamples=20)["counts"]["gold_reports"] == 2
    result = import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"], reason="consent withdrawn")
    assert result.reports == 2
    assert statistics_get(n_resamples=20)["counts"]["gold_reports"] == 1  # the cache notices the withdrawal
    gone_ids = {r.id for r in world["reports"]["gone.csv"]}
    assert not gone_ids & set(gold_labels_for_export().values_list("report_id", flat=True))
    exported = set(predictions_for_export(source=MachinePrediction.Source.RULES, source_version="rules-1").values_list("report_id", flat=True))
    assert exported == {r.id for r in world["reports"]["kept.csv"]}
    # Nothing deleted.
    assert Report.objects.filter(id__in=gone_ids).count() == 2
    assert MachinePrediction.objects.filter(report_id__in=gone_ids).count() == 2


def test_gold_stays_in_history_but_a_new_version_leaves_it_out(world) -> None:  # type: ignore[no-untyped-def]
    result = import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    withdrawn_gold = world["gold"]["gone.csv"]
    assert result.gold_version == f"withdraw-{world['gone'].id}"
    version = GoldSetVersion.objects.get(name=result.gold_version)
    assert set(GoldSetMembership.objects.filter(version=version).values_list("gold_label_id", flat=True)) == {world["gold"]["kept.csv"].id}
    assert GoldSetMembership.objects.filter(version=world["before"], gold_label=withdrawn_gold).exists()  # earlier version as frozen
    assert GoldLabel.objects.get(id=withdrawn_gold.id).is_current  # the row itself is untouched
    assert set(gold_labels_for_export(gold_version=world["before"]).values_list("id", flat=True)) >= {withdrawn_gold.id}


def test_model_versions_trained_on_them_say_so(world) -> None:  # type: ignore[no-untyped-def]
    result = import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"], reason="wrong site")
    assert result.model_versions == ["gold-1"]
    world["trained"].refresh_from_db()
    world["untouched"].refresh_from_db()
    (note,) = world["trained"].model_card["withdrawn_training_data"]
    assert note["import_batch"] == world["gone"].id and note["filename"] == "gone.csv" and note["reason"] == "wrong site"
    assert note["withdrawn_by"] == "boss"
    assert "withdrawn_training_data" not in world["untouched"].model_card


def test_withdrawal_is_audited_and_only_once(world) -> None:  # type: ignore[no-untyped-def]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"], reason="duplicate upload")
    (entry,) = [e for e in AuditLog(("import_batch",)) if e.object_id == world["gone"].id and e.action == "changed"
                and e.before and e.before["withdrawn_at"] is None and e.after and e.after["withdrawn_at"]]
    assert entry.by == "boss" and entry.after is not None and entry.after["withdraw_reason"] == "duplicate upload"
    with pytest.raises(ImportWithdrawError, match="already withdrawn"):
        import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    running = ImportBatch.objects.create(filename="busy.csv", status=ImportBatch.Status.IMPORTING)
    with pytest.raises(ImportWithdrawError, match="still importing"):
        import_batch_withdraw(batch_id=running.id, user=world["admin"])
    with pytest.raises(NotFound):
        import_batch_withdraw(batch_id=999999, user=world["admin"])


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("adjudicator", 403), ("reader", 403), (None, 401)])
def test_api_permissions_for_each_role(world, make_user, role, expected) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    if role == "admin":
        client.force_authenticate(world["admin"])
    elif role is not None:
        client.force_authenticate(make_user(f"u-{role}", role))
    res = client.post(f"/api/imports/{world['gone'].id}/withdraw/", {"reason": "test"}, format="json")
    assert res.status_code in ((401, 403) if expected == 401 else (expected,)), res.content
    assert Report.objects.filter(import_batch=world["gone"], is_withdrawn=True).exists() == (role == "admin")
    if role == "admin":
        assert res.json()["gold_version"] == f"withdraw-{world['gone'].id}"
        assert client.post(f"/api/imports/{world['gone'].id}/withdraw/", {}, format="json").status_code == 409


def test_imports_page_button_is_admin_only(world, client, make_user) -> None:  # type: ignore[no-untyped-def]
    url = reverse("annotator:import_withdraw", args=[world["gone"].id])
    client.force_login(make_user("adj", "adjudicator"))
    assert client.post(url, {"reason": "x"}).status_code in (302, 403)
    assert not ImportBatch.objects.get(id=world["gone"].id).withdrawn_at
    client.force_login(world["admin"])
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert 'aria-label="Withdraw import gone.csv"' in page
    res = client.post(url, {"reason": "duplicate"}, follow=True)
    assert res.status_code == 200 and "Withdrew import" in res.content.decode()
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert "Withdrawn " in page and 'aria-label="Withdraw import gone.csv"' not in page


# --- silver runs and fine-tuned versions ------------------------------------------------------
def _silver(name: str, *, started_at, base=None):  # type: ignore[no-untyped-def]
    version = ModelVersionFactory(name=name)
    TrainingRun.objects.create(stage=TrainingRun.Stage.SILVER, status=TrainingRun.Status.SUCCEEDED, produced_version=version,
                               started_at=started_at, base_version=base)
    return version


def test_silver_runs_that_saw_the_reports_and_their_fine_tuned_children_are_marked(world) -> None:  # type: ignore[no-untyped-def]
    before_batch = _silver("silver-old", started_at=world["gone"].created_at - timedelta(days=1))
    after_batch = _silver("silver-new", started_at=timezone.now())
    child = ModelVersionFactory(name="gold-from-silver")
    TrainingRun.objects.create(stage=TrainingRun.Stage.GOLD, status=TrainingRun.Status.SUCCEEDED, produced_version=child,
                               base_version=after_batch)
    result = import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    assert result.model_versions == ["gold-1", "silver-new", "gold-from-silver"]
    basis = {v.name: v.model_card["withdrawn_training_data"][0]["trained_on"]
             for v in (world["trained"], after_batch, child) if not v.refresh_from_db()}
    assert basis == {"gold-1": "gold labels", "silver-new": "silver labels of every imported report",
                     "gold-from-silver": "fine-tuned from silver-new"}
    before_batch.refresh_from_db()
    assert "withdrawn_training_data" not in before_batch.model_card


def test_a_silver_run_while_the_batch_was_out_is_not_marked_when_it_is_withdrawn_again(world) -> None:  # type: ignore[no-untyped-def]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    while_out = _silver("silver-while-out", started_at=timezone.now())
    import_batch_restore(batch_id=world["gone"].id, user=world["admin"])
    after_restore = _silver("silver-after-restore", started_at=timezone.now())
    again = import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    assert "silver-after-restore" in again.model_versions and "silver-while-out" not in again.model_versions
    assert again.gold_version == f"withdraw-{world['gone'].id}-2"
    while_out.refresh_from_db()
    after_restore.refresh_from_db()
    assert "withdrawn_training_data" not in while_out.model_card
    assert len(after_restore.model_card["withdrawn_training_data"]) == 1


# --- restoring a withdrawn import -------------------------------------------------------------
def test_restore_brings_reports_and_their_gold_back_in_a_new_version(world, make_user) -> None:  # type: ignore[no-untyped-def]
    statistics_cache_clear()
    gone_ids = {r.id for r in world["reports"]["gone.csv"]}
    withdrawn_gold = world["gold"]["gone.csv"]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"], reason="wrong site")
    assert statistics_get(n_resamples=20)["counts"]["gold_reports"] == 1
    gold_rows, history_rows = GoldLabel.objects.count(), GoldLabel.history.count()

    result = import_batch_restore(batch_id=world["gone"].id, user=world["admin"])
    assert result.reports == 2 and result.gold_version == f"restore-{world['gone'].id}"
    assert not Report.objects.filter(id__in=gone_ids, is_withdrawn=True).exists()
    # Gold: the same rows, current again, and in the new frozen version; nothing written or deleted.
    assert GoldLabel.objects.count() == gold_rows and GoldLabel.history.count() == history_rows
    assert GoldLabel.objects.get(id=withdrawn_gold.id).is_current
    version = GoldSetVersion.objects.get(name=result.gold_version)
    assert set(GoldSetMembership.objects.filter(version=version).values_list("gold_label_id", flat=True)) == {
        withdrawn_gold.id, world["gold"]["kept.csv"].id}
    assert GoldSetVersion.objects.filter(name=f"withdraw-{world['gone'].id}").exists()  # the withdrawal's version stays
    # Statistics, exports and the queue have them again.
    assert statistics_get(n_resamples=20)["counts"]["gold_reports"] == 2
    assert withdrawn_gold.report_id in set(gold_labels_for_export().values_list("report_id", flat=True))
    exported = set(predictions_for_export(source=MachinePrediction.Source.RULES, source_version="rules-1").values_list("report_id", flat=True))
    assert gone_ids <= exported
    import_batch_withdraw(batch_id=world["kept"].id, user=world["admin"])
    assert next_report_assign(reader=make_user("r9", "reader")) == world["reports"]["gone.csv"][1]


def test_restore_is_noted_on_the_model_cards_and_audited(world) -> None:  # type: ignore[no-untyped-def]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"], reason="wrong site")
    result = import_batch_restore(batch_id=world["gone"].id, user=world["admin"])
    assert result.model_versions == ["gold-1"]
    world["trained"].refresh_from_db()
    card = world["trained"].model_card
    assert len(card["withdrawn_training_data"]) == 1  # the withdrawal note stays
    (note,) = card["restored_training_data"]
    assert note["import_batch"] == world["gone"].id and note["restored_by"] == "boss" and note["reports"] == 2
    entries = [e for e in AuditLog(("import_batch",)) if e.object_id == world["gone"].id and e.action == "changed"]
    restored = [e for e in entries if e.before and e.before["withdrawn_at"] and e.after and e.after["withdrawn_at"] is None]
    assert len(restored) == 1 and restored[0].by == "boss" and restored[0].before is not None
    assert restored[0].before["withdraw_reason"] == "wrong site"  # the withdrawal is still in the history
    batch = ImportBatch.objects.get(id=world["gone"].id)
    assert "Withdrew import" in batch.message and "Restored import" in batch.message
    with pytest.raises(ImportWithdrawError, match="not withdrawn"):
        import_batch_restore(batch_id=world["gone"].id, user=world["admin"])
    with pytest.raises(NotFound):
        import_batch_restore(batch_id=999999, user=world["admin"])


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("adjudicator", 403), ("reader", 403), (None, 401)])
def test_restore_api_permissions_for_each_role(world, make_user, role, expected) -> None:  # type: ignore[no-untyped-def]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    client = APIClient()
    if role == "admin":
        client.force_authenticate(world["admin"])
    elif role is not None:
        client.force_authenticate(make_user(f"u-{role}", role))
    url = reverse("api:import_restore", args=[world["gone"].id])
    assert url == f"/api/imports/{world['gone'].id}/restore/"
    res = client.post(url, {}, format="json")
    assert res.status_code in ((401, 403) if expected == 401 else (expected,)), res.content
    assert Report.objects.filter(import_batch=world["gone"], is_withdrawn=True).exists() == (role != "admin")
    if role == "admin":
        assert res.json()["gold_version"] == f"restore-{world['gone'].id}" and res.json()["reports"] == 2
        assert client.post(url, {}, format="json").status_code == 409


def test_imports_page_restore_button_is_admin_only(world, client, make_user) -> None:  # type: ignore[no-untyped-def]
    import_batch_withdraw(batch_id=world["gone"].id, user=world["admin"])
    url = reverse("annotator:import_restore", args=[world["gone"].id])
    client.force_login(make_user("adj", "adjudicator"))
    assert client.post(url).status_code in (302, 403)
    assert ImportBatch.objects.get(id=world["gone"].id).withdrawn_at
    client.force_login(world["admin"])
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert 'aria-label="Restore import gone.csv"' in page and 'aria-label="Restore import kept.csv"' not in page
    res = client.post(url, follow=True)
    assert res.status_code == 200 and "Restored import" in res.content.decode()
    page = client.get(reverse("labeling:import_list")).content.decode()
    assert 'aria-label="Withdraw import gone.csv"' in page and 'aria-label="Restore import gone.csv"' not in page
