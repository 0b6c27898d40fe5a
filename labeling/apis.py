"""REST API of labeling: imports, the gold and prediction exports, the change
history. Thin adapters over `labeling.services` and `labeling.selectors`."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, user_of
from api.exceptions import UploadInvalid
from api.http import FormatIsOurs, bad_request, stream_download
from api.parsers import MultiPartParser
from labeling.label_studio import label_studio_config
from labeling.models import ImportBatch, ModelVersion
from labeling.observations import OBSERVATION_NAMES, LabelValue
from labeling.selectors import latest_rules_version, predictions_for_export
from labeling.services.exports import (
    gold_export_open,
    label_studio_export_open,
    machine_predictions_export,
    uncertainty_policy_get,
)
from labeling.services.upload_validation import upload_validate
from labeling.services.uploads import report_upload_accept
from privacy.services.access_audit import report_access_record

LABEL_CHOICES = [v.value for v in LabelValue]


class LabelsField(serializers.DictField):
    """{observation name: positive|negative|uncertain|blank}; unknown names are refused."""

    child = serializers.ChoiceField(choices=LABEL_CHOICES)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        values = super().to_internal_value(data)
        unknown = sorted(set(values) - set(OBSERVATION_NAMES))
        if unknown:
            raise serializers.ValidationError(f"unknown observation(s): {', '.join(unknown)}")
        return values


class ImportBatchSerializer(serializers.ModelSerializer):
    task = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = ["id", "filename", "status", "progress", "rows_read", "rows_created", "rows_unchanged", "message",
                  "errors", "deid_findings", "created_at", "started_at", "finished_at", "task", "withdrawn_at", "withdraw_reason"]

    def get_task(self, obj: ImportBatch) -> str:
        return f"import-{obj.id}"


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class ImportListView(ListAPIView):
    """Admins: recent import batches; POST a CSV/JSONL file to import it."""

    permission_classes = [IsAdmin]
    serializer_class = ImportBatchSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        return ImportBatch.objects.select_related("created_by").order_by("-created_at", "-id")

    @extend_schema(request=UploadSerializer, responses={202: ImportBatchSerializer})
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise UploadInvalid("No file: send multipart/form-data with a `file` field.",
                                [{"line": 0, "column": None, "message": "missing `file`"}])
        errors = upload_validate(upload=upload)
        if errors:
            listed = [{"line": e.line, "column": e.column, "message": e.message} for e in errors]
            raise UploadInvalid(f"{len(listed)} problem(s) in {upload.name}; nothing was imported.", listed)
        batch = report_upload_accept(upload=upload, user=user_of(request))
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(GenericAPIView):
    """Admins: status, progress and every bad row of an import batch."""

    permission_classes = [IsAdmin]
    serializer_class = ImportBatchSerializer

    def get(self, request: Request, batch_id: int) -> Response:
        return Response(ImportBatchSerializer(get_object_or_404(ImportBatch, id=batch_id)).data)


UNCERTAIN_HELP = ("uncertainty policy, changing uncertain values only: as-is (default), positive (U-Ones), negative (U-Zeros), "
                  "blank, hedged-absent (uncertain -> blank), or per observation, e.g. 'Atelectasis=positive,Edema=negative'")


class GoldExportView(APIView):
    """Admins: the gold set (current, or a frozen `version`) as a streamed CSV or JSONL."""

    permission_classes = [IsAdmin]
    content_negotiation_class = FormatIsOurs

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"]), OpenApiParameter("version", str),
                               OpenApiParameter("uncertain", str, description=UNCERTAIN_HELP)],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        export = gold_export_open(user=request.user, fmt=request.query_params.get("format", "csv"),
                                  version_name=request.query_params.get("version"), request=request,
                                  uncertain=request.query_params.get("uncertain"))
        return stream_download(export.chunks, content_type=export.content_type, filename=export.filename)


class LabelStudioTasksView(APIView):
    """Admins: every report (not flagged or withdrawn) as Label Studio tasks (a
    streamed JSON list) with machine labels as predictions. `source` (repeatable):
    rules, model, model:VERSION or external:NAME; default the rules and the active model."""

    permission_classes = [IsAdmin]

    @extend_schema(parameters=[OpenApiParameter("source", str, many=True)],
                   responses={(200, "application/json"): {"type": "array", "items": {"type": "object"}}})
    def get(self, request: Request) -> StreamingHttpResponse:
        export = label_studio_export_open(user=request.user, sources=request.query_params.getlist("source") or None, request=request)
        return stream_download(export.chunks, content_type=export.content_type, filename=export.filename)


class LabelStudioConfigView(APIView):
    """Admins: the Label Studio labeling config (XML) that fits the exported tasks
    and the `import_labels --format label-studio` import."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(label_studio_config(), content_type="application/xml; charset=utf-8")


class PredictionExportView(APIView):
    """Admins: one labeler's predictions for the whole corpus as a streamed CheXpert CSV."""

    permission_classes = [IsAdmin]

    @extend_schema(parameters=[
        OpenApiParameter("source", str, enum=["rules", "model", "external"]),
        OpenApiParameter("version", str, description="rules version or model version name (default: latest / active); "
                                                     "external: the labeler's name (required)"),
        OpenApiParameter("column_order", str, enum=["chexpert", "chexbert"]),
        OpenApiParameter("uncertain", str, description=UNCERTAIN_HELP),
    ], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        source = request.query_params.get("source", "rules")
        order = request.query_params.get("column_order", "chexpert")
        if source not in ("rules", "model", "external") or order not in ("chexpert", "chexbert"):
            raise bad_request("source must be rules, model or external; column_order chexpert or chexbert")
        policy = uncertainty_policy_get(spec=request.query_params.get("uncertain"))
        version = request.query_params.get("version") or None
        if version is None:
            if source == "external":
                raise bad_request("source external needs the labeler's name as version")
            if source == "rules":
                version = latest_rules_version()
            else:
                active = ModelVersion.objects.filter(is_active=True).first()
                version = active.name if active else None
        if version is None:
            raise Http404("No predictions from that source yet.")
        report_access_record(user=request.user, request=request,
                             report_ids=predictions_for_export(source=source, source_version=version).values_list("report_id", flat=True))
        return stream_download(machine_predictions_export(source=source, source_version=version, column_order=order, policy=policy),
                       content_type="text/csv; charset=utf-8", filename=f"predictions-{source}-{version}.csv")
