"""Admin training and model pages in a real browser: start a run, watch its row, promote."""

from __future__ import annotations

import pytest

from tests.conftest import screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_starts_a_training_run_and_sees_model_versions(chromium, live_server, make_user) -> None:  # type: ignore[no-untyped-def]
    from labeling.models import ModelVersion
    from ml_worker.models import TrainingRun

    make_user("boss", "admin", password="boss-pass-1234")
    ModelVersion.objects.create(
        name="v1-silver", checkpoint_path="/m/1", stage="silver", is_active=True,
        metrics={"basis": "silver_holdout", "validation_reports": 40, "mean_weighted_f1": 0.91,
                 "promotion": {"decision": "promoted: first model version"}},
        model_card={"not_for_clinical_use": "Not for clinical use: research labels only."},
    )
    ModelVersion.objects.create(name="v2-gold", checkpoint_path="/m/2", stage="gold",
                                metrics={"basis": "validation_gold", "validation_reports": 25, "mean_weighted_f1": 0.88})
    page = chromium.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("boss-pass-1234")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Training").click()
    page.get_by_label("Stage").select_option("silver")
    page.get_by_label("Epochs").fill("1")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("queued on the gpu queue").wait_for()
    run = TrainingRun.objects.get()
    assert run.stage == "silver" and run.config["epochs"] == 1
    progress = page.get_by_role("progressbar", name=f"Progress of run {run.id}")
    assert progress.is_visible()
    page.screenshot(path=str(screenshot_dir() / "admin-training.png"), full_page=True)
    page.get_by_role("button", name=f"Cancel run {run.id}").click()
    page.get_by_text(f"Training run {run.id}: cancelled").wait_for()
    page.get_by_role("link", name="Models").click()
    page.get_by_text("held-out rule labels").wait_for()
    page.screenshot(path=str(screenshot_dir() / "admin-models.png"), full_page=True)
    page.get_by_role("button", name="Promote v2-gold").click()
    page.get_by_text("v2-gold is now the active model").wait_for()
    assert ModelVersion.objects.get(is_active=True).name == "v2-gold"
    page.close()
