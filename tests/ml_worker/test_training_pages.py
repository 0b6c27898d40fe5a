"""Admin pages for training runs and model versions: access, start, cancel, promote, live status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeling.models import ModelVersion
from ml_worker.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):  # type: ignore[no-untyped-def]
    client.force_login(make_user("boss", "admin"))
    return client


@pytest.mark.parametrize("name", ["ml_worker:training_runs", "ml_worker:model_versions"])
def test_pages_are_for_admins_only(client, make_user, name: str) -> None:  # type: ignore[no-untyped-def]
    url = reverse(name)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(make_user("r1", "reader"))
    assert client.get(url).status_code == 403
    client.force_login(make_user("a1", "admin"))
    assert client.get(url).status_code == 200


def test_start_a_run_then_a_second_is_refused_then_cancel(admin_client) -> None:  # type: ignore[no-untyped-def]
    form = {"stage": "silver", "base": "encoder", "epochs": 1, "learning_rate": 0.001, "batch_size": 8, "max_length": 64}
    response = admin_client.post(reverse("ml_worker:training_runs"), form, follow=True)
    assert "queued on the gpu queue" in response.content.decode()
    run = TrainingRun.objects.get()
    assert run.config["epochs"] == 1 and run.started_by is not None and run.started_by.username == "boss"
    response = admin_client.post(reverse("ml_worker:training_runs"), form, follow=True)
    assert "already queued or running" in response.content.decode() and TrainingRun.objects.count() == 1
    status = admin_client.get(reverse("ml_worker:training_run_status", args=[run.id])).json()
    assert status["status"] == "queued" and status["fraction"] == 0.0
    admin_client.post(reverse("ml_worker:training_run_cancel", args=[run.id]))
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_promote_and_roll_back_from_the_page(admin_client) -> None:  # type: ignore[no-untyped-def]
    old = ModelVersion.objects.create(name="v1-silver", checkpoint_path="/a", is_active=True,
                                      metrics={"basis": "silver_holdout", "mean_weighted_f1": 0.9, "validation_reports": 10})
    new = ModelVersion.objects.create(name="v2-gold", checkpoint_path="/b", metrics={"basis": "validation_gold"})
    page = admin_client.get(reverse("ml_worker:model_versions")).content.decode()
    assert "held-out rule labels" in page and "Promote v2-gold" in page
    admin_client.post(reverse("ml_worker:model_version_promote", args=[new.id]))
    assert ModelVersion.objects.get(is_active=True) == new
    page = admin_client.get(reverse("ml_worker:model_versions")).content.decode()
    assert "Roll back to v1-silver" in page
    admin_client.post(reverse("ml_worker:model_version_promote", args=[old.id]))
    assert ModelVersion.objects.get(is_active=True) == old
