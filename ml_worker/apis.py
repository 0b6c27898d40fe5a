"""REST API of training and the model registry, and the status of background
jobs (imports and training runs)."""

from __future__ import annotations

from typing import Any

from celery.result import AsyncResult
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, user_of
from api.http import bad_request
from labeling.models import ImportBatch, ModelVersion
from labeling.routing import PREFILL_MODES
from ml_worker import selectors as ml_selectors
from ml_worker import services as ml_services
from ml_worker.models import TrainingRun


class TrainingRunCreateSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=TrainingRun.Stage.values)
    base = serializers.ChoiceField(choices=["active", "encoder"], default="active")
    overrides = serializers.DictField(required=False, default=dict)


class TrainingRunSerializer(serializers.ModelSerializer):
    produced_version = serializers.CharField(source="produced_version.name", default=None, read_only=True, allow_null=True)
    started_by = serializers.CharField(source="started_by.username", default=None, read_only=True, allow_null=True)
    task = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "stage", "status", "trigger", "progress", "metrics", "cancel_requested", "produced_version",
                  "started_by", "created_at", "started_at", "finished_at", "task"]
        read_only_fields = fields

    def get_task(self, obj: TrainingRun) -> str:
        return f"training-{obj.id}"


class ModelVersionSerializer(serializers.ModelSerializer):
    # Declared fields leave the class (SerializerMetaclass), so this does not shadow Field.parent at run time.
    parent = serializers.CharField(source="parent.name", default=None, read_only=True, allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "stage", "is_active", "parent", "metrics", "model_card", "created_at", "promoted_at"]
        read_only_fields = fields


class TrainingRunListView(ListAPIView):
    """Admins: training runs; POST starts one (409 while another is open)."""

    permission_classes = [IsAdmin]
    serializer_class = TrainingRunSerializer

    def get_queryset(self) -> Any:
        return TrainingRun.objects.select_related("started_by", "produced_version").order_by("-created_at", "-id")

    @extend_schema(request=TrainingRunCreateSerializer, responses={201: TrainingRunSerializer})
    def post(self, request: Request) -> Response:
        body = TrainingRunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = ml_services.training_run_create(user=user_of(request), **body.validated_data)
        except ml_services.TrainingConfigInvalid:
            raise  # 400 naming the option, as a problem (api.exceptions)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


class TrainingRunDetailView(GenericAPIView):
    """Admins: a training run's status, progress and log tail."""

    permission_classes = [IsAdmin]
    serializer_class = TrainingRunSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(TrainingRun.objects.select_related("produced_version"), id=run_id)
        return Response({**TrainingRunSerializer(run).data, **ml_selectors.training_run_status_dict(run=run)})


class TrainingRunCancelView(GenericAPIView):
    """Admins: cancel a queued run, or ask a running one to stop."""

    permission_classes = [IsAdmin]
    serializer_class = TrainingRunSerializer

    @extend_schema(request=None, responses=TrainingRunSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        run = ml_services.training_run_cancel(run=get_object_or_404(TrainingRun, id=run_id))
        return Response(TrainingRunSerializer(run).data)


class ModelVersionListView(ListAPIView):
    """Admins: model versions, newest first, and the active model's re-labelling progress."""

    permission_classes = [IsAdmin]
    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> Any:
        return ml_selectors.model_versions_all()

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.data["relabel_progress"] = ml_services.model_relabel_progress()
        return response


class ModelVersionPromoteView(GenericAPIView):
    """Admins: make this version the active model (promoting an older one rolls back)."""

    permission_classes = [IsAdmin]
    serializer_class = ModelVersionSerializer

    @extend_schema(request=None, responses=ModelVersionSerializer)
    def post(self, request: Request, version_id: int) -> Response:
        version = ml_services.model_version_promote(version=get_object_or_404(ModelVersion, id=version_id))
        return Response(ModelVersionSerializer(version).data)


class ModelVersionRollbackView(GenericAPIView):
    """Admins: re-activate the most recently promoted version other than the active one."""

    permission_classes = [IsAdmin]
    serializer_class = ModelVersionSerializer

    @extend_schema(request=None, responses=ModelVersionSerializer)
    def post(self, request: Request) -> Response:
        version = ml_services.model_version_rollback()
        return Response(ModelVersionSerializer(version).data)


class TaskStatusView(APIView):
    """Admins: a background job's status by its API id (`import-<batch id>`,
    `training-<run id>`), with the Celery state where a task id is known."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, task_id: str) -> Response:
        kind, _, raw = task_id.partition("-")
        if not raw.isdigit() or kind not in ("import", "training"):
            raise Http404("Task ids look like import-12 or training-3.")
        if kind == "import":
            batch = get_object_or_404(ImportBatch, id=int(raw))
            done = batch.status in (ImportBatch.Status.SUCCEEDED, ImportBatch.Status.FAILED)
            return Response({"id": task_id, "kind": kind, "state": batch.status, "done": done, "progress": batch.progress,
                             "message": batch.message, "errors": batch.errors})
        run = get_object_or_404(TrainingRun, id=int(raw))
        celery_state: str | None = None
        if run.celery_task_id:
            try:
                celery_state = AsyncResult(run.celery_task_id).state
            except Exception:  # noqa: BLE001 - a result backend outage must not break the status page
                celery_state = "UNKNOWN"
        info = ml_selectors.training_run_status_dict(run=run)
        return Response({"id": task_id, "kind": kind, "state": run.status, "celery_state": celery_state,
                         "done": run.status not in ("queued", "running"), "progress": info["fraction"], "detail": info})


class RoutedLabelsRequestSerializer(serializers.Serializer):
    texts = serializers.ListField(child=serializers.CharField(max_length=100_000, allow_blank=False), min_length=1,
                                  max_length=ml_services.ROUTED_API_MAX_TEXTS)
    mode = serializers.ChoiceField(choices=list(PREFILL_MODES), required=False)


class RoutedLabelsView(GenericAPIView):
    """Admins (scripts): label new report text exactly as the review page would
    pre-fill it: per observation the routed source's value with its provenance;
    `value` null = not pre-filled (a contested row in `uncontested` mode)."""

    permission_classes = [IsAdmin]
    serializer_class = RoutedLabelsRequestSerializer

    @extend_schema(request=RoutedLabelsRequestSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = RoutedLabelsRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        results = ml_services.routed_labels_for_texts(texts=body.validated_data["texts"], mode=body.validated_data.get("mode"))
        return Response({"results": [
            {"labels": {name: cell.value for name, cell in cells.items()},
             "contested": [name for name, cell in cells.items() if cell.contested],
             "cells": {name: cell.as_dict() for name, cell in cells.items()}}
            for cells in results
        ]})
