"""Admin pages: training runs (start, cancel, live progress) and model versions
(metrics, promote, roll back). Thin: parse, call a service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthenticatedHttpRequest, role_required
from accounts.roles import Role
from labeling.models import ModelVersion
from labeling.observations import OBSERVATION_NAMES
from labeling.selectors import active_model_version_get
from ml_worker.models import TrainingRun
from ml_worker.selectors import active_routing, model_versions_all, training_run_status_dict, training_runs_recent
from ml_worker.services import (
    TrainingRunConflict,
    model_relabel_progress,
    model_version_promote,
    training_run_cancel,
    training_run_create,
)


class TrainingRunForm(forms.Form):
    stage = forms.ChoiceField(choices=TrainingRun.Stage.choices, initial="gold")
    base = forms.ChoiceField(choices=[("active", "Active model version"), ("encoder", "Base encoder")], initial="active")
    epochs = forms.IntegerField(min_value=1, max_value=50, initial=3)
    learning_rate = forms.FloatField(min_value=1e-7, max_value=1e-2, initial=2e-5)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=16)
    max_length = forms.IntegerField(min_value=8, max_value=512, initial=512)


@role_required(Role.ADMIN)
def training_run_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TrainingRunForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            stage, base = data.pop("stage"), data.pop("base")
            try:
                run = training_run_create(stage=stage, base=base, overrides=data, user=request.user)
                messages.success(request, f"Training run {run.id} queued on the gpu queue.")
            except TrainingRunConflict as exc:
                messages.error(request, str(exc))
            return redirect("ml_worker:training_runs")
    else:
        form = TrainingRunForm()
    return render(request, "ml_worker/training_runs.html", {"form": form, "runs": training_runs_recent()})


@require_GET
@role_required(Role.ADMIN)
def training_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("produced_version"), id=run_id)
    return JsonResponse(training_run_status_dict(run=run))


@require_POST
@role_required(Role.ADMIN)
def training_run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = training_run_cancel(run=get_object_or_404(TrainingRun, id=run_id))
    messages.info(request, f"Training run {run.id}: {'cancelled' if run.status == 'cancelled' else 'asked to stop'}.")
    return redirect("ml_worker:training_runs")


@role_required(Role.ADMIN)
def model_version_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "ml_worker/model_versions.html",
        {
            "versions": model_versions_all(),
            "active": active_model_version_get(),
            "relabel": model_relabel_progress(),
            "observations": OBSERVATION_NAMES,
            "routing": active_routing(),
        },
    )


@require_POST
@role_required(Role.ADMIN)
def model_version_promote_view(request: HttpRequest, version_id: int) -> HttpResponse:
    version = model_version_promote(version=get_object_or_404(ModelVersion, id=version_id))
    messages.success(request, f"{version.name} is now the active model; reports are being re-labelled in the background.")
    return redirect("ml_worker:model_versions")
