"""REST API views. Thin adapters: parse and validate input, check the role
(`api.permissions`), call one selector or service, serialize. Domain errors
become HTTP codes in `api.exceptions`; version checks in `api.concurrency`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from celery.result import AsyncResult
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors as review
from annotator import services as review_services
from api import serializers as s
from api.concurrency import call_with_version, expected_version, stale_as_http, with_etag
from api.exceptions import UploadInvalid
from api.permissions import IsAdjudicator, IsAdmin, IsAnyRole, IsReader, roles_of
from api.selectors import (
    AUDIT_KINDS,
    REPORT_STATUSES,
    AuditLog,
    annotations_of_reader,
    report_status,
    reports_filter,
    reports_visible,
)
from api.throttling import TokenRateThrottle
from labeling.models import Annotation, GoldSetVersion, ImportBatch, ModelVersion, Report
from labeling.observations import OBSERVATIONS, LabelValue
from labeling.roles import Role
from labeling.selectors import (
    gold_labels_for_export,
    gold_set_version_get,
    latest_rules_version,
    predictions_for_export,
    user_roles,
)
from labeling.services.access_audit import report_access_record
from labeling.services.exports import gold_label_set_export, machine_predictions_export
from labeling.services.upload_validation import report_file_validate
from labeling.services.uploads import report_upload_accept
from labeling.services.users import user_create_or_update
from ml_worker import selectors as ml_selectors
from ml_worker import services as ml_services
from ml_worker.models import TrainingRun
from ml_worker.services import model_version_promote

_OBS_BY_KEY = {**{o.value.lower(): o.value for o in OBSERVATIONS}, **{o.slug: o.value for o in OBSERVATIONS}}


def _bad_request(detail: str) -> drf_serializers.ValidationError:
    return drf_serializers.ValidationError({"detail": detail})


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an integer") from None


# --- auth --------------------------------------------------------------------------
class TokenView(ObtainAuthToken):
    """Exchange username + password for an API token (throttled)."""

    throttle_classes = [TokenRateThrottle]
    permission_classes = [AllowAny]


# --- imports -----------------------------------------------------------------------
class ImportListView(ListAPIView):
    """Admins: recent import batches; POST a CSV/JSONL file to import it."""

    permission_classes = [IsAdmin]
    serializer_class = s.ImportBatchSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        return ImportBatch.objects.select_related("created_by").order_by("-created_at", "-id")

    @extend_schema(request=s.UploadSerializer, responses={202: s.ImportBatchSerializer})
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise UploadInvalid("No file: send multipart/form-data with a `file` field.",
                                [{"line": 0, "column": None, "message": "missing `file`"}])
        errors = report_file_validate(upload=upload) if upload.size <= _sync_limit() else _cheap_checks(upload)
        if errors:
            listed = [{"line": e.line, "column": e.column, "message": e.message} for e in errors]
            raise UploadInvalid(f"{len(listed)} problem(s) in {upload.name}; nothing was imported.", listed)
        batch = report_upload_accept(upload=upload, user=request.user)
        return Response(s.ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


def _sync_limit() -> int:
    from django.conf import settings

    return settings.CHEXGOLD_SYNC_VALIDATE_MB * 1024 * 1024


def _cheap_checks(upload: Any) -> list[Any]:
    from labeling.services.upload_validation import upload_problems

    return upload_problems(upload=upload)


class ImportDetailView(GenericAPIView):
    """Admins: status, progress and every bad row of an import batch."""

    permission_classes = [IsAdmin]
    serializer_class = s.ImportBatchSerializer

    def get(self, request: Request, batch_id: int) -> Response:
        return Response(s.ImportBatchSerializer(get_object_or_404(ImportBatch, id=batch_id)).data)


# --- reports -----------------------------------------------------------------------
REPORT_FILTERS = [
    OpenApiParameter("status", str, enum=list(REPORT_STATUSES)),
    OpenApiParameter("observation", str, description="CheXpert observation name or slug, with `value`"),
    OpenApiParameter("value", str, enum=[v.value for v in LabelValue]),
    OpenApiParameter("source", str, enum=["rules", "model"], description="whose label `value` is (default rules)"),
    OpenApiParameter("disagreement", bool, description="rule and active-model labels differ"),
]


class ReportListView(ListAPIView):
    """Reports the caller may see, filtered. Readers: only reports reserved for or read by them."""

    permission_classes = [IsAnyRole]
    serializer_class = s.ReportListSerializer

    def get_queryset(self) -> Any:
        q = self.request.query_params
        status_ = q.get("status") or None
        if status_ is not None and status_ not in REPORT_STATUSES:
            raise _bad_request(f"status must be one of {', '.join(REPORT_STATUSES)}")
        observation = q.get("observation") or None
        if observation is not None:
            observation = _OBS_BY_KEY.get(observation.strip().lower())
            if observation is None:
                raise _bad_request("unknown observation")
        value = q.get("value") or None
        if value is not None and value not in LabelValue._value2member_map_:
            raise _bad_request("value must be positive, negative, uncertain or blank")
        if bool(observation) != bool(value):
            raise _bad_request("observation and value go together")
        source = q.get("source") or "rules"
        if source not in ("rules", "model"):
            raise _bad_request("source must be rules or model")
        raw = q.get("disagreement")
        disagreement = None if raw in (None, "") else raw.lower() in ("1", "true", "yes")
        qs = reports_visible(user=self.request.user, roles=roles_of(self.request))
        return reports_filter(qs, status=status_, observation=observation, value=value, source=source, disagreement=disagreement)

    @extend_schema(parameters=REPORT_FILTERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        # Least exposure: patient id and study date only for admins (readers and
        # adjudicators label text; the audited detail view has the rest).
        admin = Role.ADMIN in roles_of(request)
        rows = [
            {"id": r.id, "external_id": r.external_id, "status": report_status(r),
             "patient_id": r.patient_id if admin else None, "study_date": r.study_date if admin else None,
             "created_at": r.created_at}
            for r in page or []
        ]
        return self.get_paginated_response(s.ReportListSerializer(rows, many=True).data)


class ReportDetailView(APIView):
    """A report with sections, machine labels and evidence (offsets in UTF-16
    code units, as JavaScript counts). Readers also get their own annotation and,
    once the report is gold and they submitted a read, the gold labels."""

    permission_classes = [IsAnyRole]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, report_id: int) -> Response:
        roles = roles_of(request)
        privileged = bool(roles & {Role.ADMIN, Role.ADJUDICATOR})
        report = reports_visible(user=request.user, roles=roles).filter(id=report_id).first()
        if report is None:
            raise Http404("No such report, or not yours to see.")
        data: dict[str, Any] = {
            "id": report.id, "external_id": report.external_id, "status": report_status(report),
            "patient_id": report.patient_id, "study_date": report.study_date, "metadata": report.metadata,
            "text": report.text, "sections": review.sections_for_js(report=report),
        }
        report_access_record(user=request.user, report_ids=[report.id], request=request)
        annotation = review.annotation_of_reader(reader=request.user, report=report) if Role.READER in roles else None
        submitted = annotation is not None and annotation.status == Annotation.Status.SUBMITTED
        hide_machine = (not privileged and not submitted and review_services.review_first_read_required(annotation=annotation))
        if hide_machine:
            data["machine_labels"] = None
        else:
            m = review.machine_labels_for_report(report=report)
            data["machine_labels"] = {
                "rules": m.rules, "rules_version": m.rules_version, "model": m.model, "model_version": m.model_version,
                "probabilities": m.probabilities, "evidence": m.evidence,
            }
        if Role.READER in roles:
            data["my_annotation"] = s.AnnotationSerializer(annotation).data if annotation else None
            gold = review.gold_feedback_for_reader(reader=request.user, report=report)
            data["gold"] = {"labels": gold.labels, "method": gold.method} if gold else None
        if privileged:
            gold = report.gold_labels.filter(is_current=True).first()
            data["gold"] = {"id": gold.id, "labels": gold.labels, "method": gold.method, "created_at": gold.created_at} if gold else None
        return Response(data)


class NextReportView(APIView):
    """Readers: reserve and return the next report to read (204 when none is left)."""

    permission_classes = [IsReader]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 204: None})
    def post(self, request: Request) -> Response:
        reread = review_services.reread_next_assign(reader=request.user)
        if reread is not None:  # a deliberate re-read: no earlier labels, no machine labels
            report_access_record(user=request.user, report_ids=[reread.id], request=request)
            return Response({
                "id": reread.id, "external_id": reread.external_id, "text": reread.text, "reread": True,
                "submit_url": f"/api/rereads/{reread.id}/submit/", "annotation": None,
            })
        report = review_services.next_report_assign(reader=request.user)
        if report is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        annotation = review.annotation_of_reader(reader=request.user, report=report)
        report_access_record(user=request.user, report_ids=[report.id], request=request)
        return Response({
            "id": report.id, "external_id": report.external_id, "text": report.text, "url": f"/api/reports/{report.id}/",
            "reread": False, "annotation": s.AnnotationSerializer(annotation).data if annotation else None,
        })


class RereadSubmitView(GenericAPIView):
    """Readers: submit a deliberate re-read handed out by `reports/next/` (all 14 values)."""

    permission_classes = [IsReader]
    serializer_class = s.AnnotationWriteSerializer

    @extend_schema(request=s.AnnotationWriteSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, report_id: int) -> Response:
        pending = review.reread_pending_get(reader=request.user, report_id=report_id)
        if pending is None:
            raise Http404("No re-read of this report is waiting for you.")
        body = s.AnnotationWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            saved = review_services.reread_submit(
                reader=request.user, report=pending.report, labels=body.validated_data["labels"],
                time_spent_seconds=body.validated_data.get("time_spent_seconds"),
            )
        except review_services.ReviewError as exc:
            raise _bad_request(str(exc)) from None
        return Response({"report": report_id, "labels": saved.labels, "submitted_at": saved.submitted_at})


# --- annotations (own only) --------------------------------------------------------------
class AnnotationListView(ListAPIView):
    """Readers: their own annotations. POST creates a draft for a report handed to them."""

    permission_classes = [IsReader]
    serializer_class = s.AnnotationSerializer

    def get_queryset(self) -> Any:
        return annotations_of_reader(reader=self.request.user)

    @extend_schema(request=s.AnnotationCreateSerializer, responses={201: s.AnnotationSerializer})
    def post(self, request: Request) -> Response:
        body = s.AnnotationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = review.report_for_reader(reader=request.user, report_id=body.validated_data["report"])
        if report is None:
            raise Http404("No such report in your queue.")
        annotation = review_services.annotation_draft_save(
            reader=request.user, report=report, labels=body.validated_data["labels"], expected_version=0,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
        )
        return with_etag(Response(s.AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED), annotation.version)


def _own_annotation(request: Request, annotation_id: int) -> Annotation:
    annotation = review.annotation_visible_get(user=request.user, annotation_id=annotation_id)
    if annotation is None:
        raise Http404("No such annotation.")  # another reader's: 404, not 403 (existence is not revealed)
    return annotation


class AnnotationDetailView(GenericAPIView):
    """Readers: one of their annotations (ETag = version); PATCH/PUT saves a draft
    (If-Match or `version` required)."""

    permission_classes = [IsReader]
    serializer_class = s.AnnotationWriteSerializer

    @extend_schema(responses=s.AnnotationSerializer)
    def get(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        return with_etag(Response(s.AnnotationSerializer(annotation).data), annotation.version)

    @extend_schema(request=s.AnnotationWriteSerializer, responses=s.AnnotationSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def patch(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        body = s.AnnotationWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = call_with_version(request, lambda v: review_services.annotation_draft_save(
            reader=request.user, report=annotation.report, labels=body.validated_data["labels"], expected_version=v,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
        ))
        return with_etag(Response(s.AnnotationSerializer(saved).data), saved.version)

    put = patch


class AnnotationSubmitView(GenericAPIView):
    """Readers: submit an annotation (all 14 values; If-Match or `version` required).
    Consistency warnings without `override_warnings` -> 400 listing them, nothing saved."""

    permission_classes = [IsReader]
    serializer_class = s.AnnotationSubmitSerializer

    @extend_schema(request=s.AnnotationSubmitSerializer, responses=s.AnnotationSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        body = s.AnnotationSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = call_with_version(request, lambda v: review_services.annotation_submit(
            reader=request.user, report=annotation.report, labels=body.validated_data["labels"], expected_version=v,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
            override_warnings=body.validated_data["override_warnings"],
        ))
        if not result.submitted:
            return Response({
                "detail": "The labels look inconsistent; check them or resend with override_warnings=true.",
                "code": "consistency_warnings", "warnings": [str(w) for w in result.warnings],
            }, status=status.HTTP_400_BAD_REQUEST)
        data = s.AnnotationSerializer(result.annotation).data
        data["became_gold"] = result.gold is not None
        return with_etag(Response(data), result.annotation.version)  # type: ignore[union-attr]


# --- adjudication ---------------------------------------------------------------------
class AdjudicationQueueView(APIView):
    """Adjudicators: reports with k reads and no gold that they did not read, most conflicts first."""

    permission_classes = [IsAdjudicator]

    @extend_schema(operation_id="adjudication_queue", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from api.pagination import Pagination

        items = review.adjudication_queue(adjudicator=request.user)
        paginator = Pagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response([
            {"report_id": i.report_id, "external_id": i.external_id, "reads": i.reads, "conflicts": i.conflicts}
            for i in page or []
        ])


class AdjudicationDetailView(GenericAPIView):
    """Adjudicators: the (anonymised) reads of a report they did not read; ETag =
    current gold id (0: none). POST resolves it into gold (If-Match or `version`)."""

    permission_classes = [IsAdjudicator]
    serializer_class = s.AdjudicationResolveSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, report_id: int) -> Response:
        view = review.adjudication_view_get(adjudicator=request.user, report_id=report_id)
        if view is None:
            raise Http404("No such report in your adjudication queue.")
        gold_id = view.current_gold.id if view.current_gold else 0
        report_access_record(user=request.user, report_ids=[view.report.id], request=request)
        data = {
            "report": {"id": view.report.id, "external_id": view.report.external_id, "text": view.report.text},
            "reads": [{"reader": r.label, "labels": r.labels} for r in view.reads],
            "conflicts": view.conflicts,
            "current_gold": {"id": view.current_gold.id, "labels": view.current_gold.labels} if view.current_gold else None,
            "version": gold_id,
        }
        return with_etag(Response(data), gold_id)

    @extend_schema(request=s.AdjudicationResolveSerializer, responses={200: OpenApiTypes.OBJECT},
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def post(self, request: Request, report_id: int) -> Response:
        report = get_object_or_404(Report, id=report_id)
        body = s.AdjudicationResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        expected = expected_version(request)
        with stale_as_http(expected):
            gold = review_services.gold_adjudicate(
                report=report, adjudicator=request.user, labels=body.validated_data["labels"],
                rationale=body.validated_data["rationale"], expected_current_gold_id=expected.value or None,
            )
        return with_etag(Response({"gold_id": gold.id, "labels": gold.labels, "method": gold.method,
                                   "supersedes": gold.supersedes_id}), gold.id)


# --- gold -------------------------------------------------------------------------------
def _stream(chunks: Iterator[str], *, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse((c.encode("utf-8") for c in chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _FormatIsOurs(DefaultContentNegotiation):
    """`?format=` names the export format here, not a DRF renderer."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class GoldExportView(APIView):
    """Admins: the gold set (current, or a frozen `version`) as a streamed CSV or JSONL."""

    permission_classes = [IsAdmin]
    content_negotiation_class = _FormatIsOurs

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"]), OpenApiParameter("version", str)],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise _bad_request("format must be csv or jsonl")
        version = None
        if request.query_params.get("version"):
            version = gold_set_version_get(name=request.query_params["version"])
            if version is None:
                raise Http404("No such gold-set version.")
        report_access_record(user=request.user, request=request,
                             report_ids=gold_labels_for_export(gold_version=version).values_list("report_id", flat=True))
        return _stream(gold_label_set_export(fmt=fmt, gold_version=version),
                       content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
                       filename=f"gold-{version.name if version else 'current'}.{fmt}")


def _version_dict(v: GoldSetVersion) -> dict[str, Any]:
    return {"name": v.name, "note": v.note, "size": getattr(v, "size", None),
            "created_by": v.created_by.get_username() if v.created_by else None, "created_at": v.created_at}


class GoldVersionListView(GenericAPIView):
    """Admins: frozen gold-set versions; POST freezes the current gold set under a name."""

    permission_classes = [IsAdmin]
    serializer_class = s.GoldFreezeSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(review.gold_set_versions())
        return self.get_paginated_response([_version_dict(v) for v in page or []])

    @extend_schema(request=s.GoldFreezeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = s.GoldFreezeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = review_services.gold_set_version_freeze(user=request.user, **body.validated_data)
        return Response(_version_dict(review.gold_set_versions().get(id=version.id)), status=status.HTTP_201_CREATED)


class GoldVersionCompareView(APIView):
    """Admins: reports added, removed and changed between gold-set versions `a` and `b`."""

    permission_classes = [IsAdmin]

    @extend_schema(parameters=[OpenApiParameter("a", str, required=True), OpenApiParameter("b", str, required=True)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        a = gold_set_version_get(name=request.query_params.get("a", ""))
        b = gold_set_version_get(name=request.query_params.get("b", ""))
        if a is None or b is None:
            raise Http404("No such gold-set version (give names as ?a=...&b=...).")
        c = review.gold_set_versions_compare(a=a, b=b)
        return Response({
            "a": a.name, "b": b.name, "added": c.added, "removed": c.removed, "unchanged": c.unchanged,
            "changed": [{"report_id": ch.report_id, "external_id": ch.external_id,
                         "changes": [{"observation": o, "a": va, "b": vb} for o, va, vb in ch.changes]} for ch in c.changed],
        })


# --- training and models ---------------------------------------------------------------
class TrainingRunListView(ListAPIView):
    """Admins: training runs; POST starts one (409 while another is open)."""

    permission_classes = [IsAdmin]
    serializer_class = s.TrainingRunSerializer

    def get_queryset(self) -> Any:
        return TrainingRun.objects.select_related("started_by", "produced_version").order_by("-created_at", "-id")

    @extend_schema(request=s.TrainingRunCreateSerializer, responses={201: s.TrainingRunSerializer})
    def post(self, request: Request) -> Response:
        body = s.TrainingRunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = ml_services.training_run_create(user=request.user, **body.validated_data)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        return Response(s.TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


class TrainingRunDetailView(GenericAPIView):
    """Admins: a training run's status, progress and log tail."""

    permission_classes = [IsAdmin]
    serializer_class = s.TrainingRunSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(TrainingRun.objects.select_related("produced_version"), id=run_id)
        return Response({**s.TrainingRunSerializer(run).data, **ml_selectors.training_run_status_dict(run=run)})


class TrainingRunCancelView(GenericAPIView):
    """Admins: cancel a queued run, or ask a running one to stop."""

    permission_classes = [IsAdmin]
    serializer_class = s.TrainingRunSerializer

    @extend_schema(request=None, responses=s.TrainingRunSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        run = ml_services.training_run_cancel(run=get_object_or_404(TrainingRun, id=run_id))
        return Response(s.TrainingRunSerializer(run).data)


class ModelVersionListView(ListAPIView):
    """Admins: model versions, newest first, and the active model's re-labelling progress."""

    permission_classes = [IsAdmin]
    serializer_class = s.ModelVersionSerializer

    def get_queryset(self) -> Any:
        return ml_selectors.model_versions_all()

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.data["relabel_progress"] = ml_services.model_relabel_progress()
        return response


class ModelVersionPromoteView(GenericAPIView):
    """Admins: make this version the active model (promoting an older one rolls back)."""

    permission_classes = [IsAdmin]
    serializer_class = s.ModelVersionSerializer

    @extend_schema(request=None, responses=s.ModelVersionSerializer)
    def post(self, request: Request, version_id: int) -> Response:
        version = model_version_promote(version=get_object_or_404(ModelVersion, id=version_id))
        return Response(s.ModelVersionSerializer(version).data)


class ModelVersionRollbackView(GenericAPIView):
    """Admins: re-activate the most recently promoted version other than the active one."""

    permission_classes = [IsAdmin]
    serializer_class = s.ModelVersionSerializer

    @extend_schema(request=None, responses=s.ModelVersionSerializer)
    def post(self, request: Request) -> Response:
        previous = (ModelVersion.objects.filter(is_active=False, promoted_at__isnull=False)
                    .order_by("-promoted_at", "-id").first())
        if previous is None:
            return Response({"detail": "No earlier promoted version to roll back to.", "code": "nothing_to_roll_back"},
                            status=status.HTTP_409_CONFLICT)
        version = model_version_promote(version=previous)
        return Response(s.ModelVersionSerializer(version).data)


class PredictionExportView(APIView):
    """Admins: one labeler's predictions for the whole corpus as a streamed CheXpert CSV."""

    permission_classes = [IsAdmin]

    @extend_schema(parameters=[
        OpenApiParameter("source", str, enum=["rules", "model"]),
        OpenApiParameter("version", str, description="rules version or model version name (default: latest / active)"),
        OpenApiParameter("column_order", str, enum=["chexpert", "chexbert"]),
    ], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        source = request.query_params.get("source", "rules")
        order = request.query_params.get("column_order", "chexpert")
        if source not in ("rules", "model") or order not in ("chexpert", "chexbert"):
            raise _bad_request("source must be rules or model; column_order chexpert or chexbert")
        version = request.query_params.get("version") or None
        if version is None:
            if source == "rules":
                version = latest_rules_version()
            else:
                active = ModelVersion.objects.filter(is_active=True).first()
                version = active.name if active else None
        if version is None:
            raise Http404("No predictions from that source yet.")
        report_access_record(user=request.user, request=request,
                             report_ids=predictions_for_export(source=source, source_version=version).values_list("report_id", flat=True))
        return _stream(machine_predictions_export(source=source, source_version=version, column_order=order),
                       content_type="text/csv; charset=utf-8", filename=f"predictions-{source}-{version}.csv")


# --- tasks -------------------------------------------------------------------------------
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
        celery_state = None
        if run.celery_task_id:
            try:
                celery_state = AsyncResult(run.celery_task_id).state
            except Exception:  # noqa: BLE001 - a result backend outage must not break the status page
                celery_state = "UNKNOWN"
        info = ml_selectors.training_run_status_dict(run=run)
        return Response({"id": task_id, "kind": kind, "state": run.status, "celery_state": celery_state,
                         "done": run.status not in ("queued", "running"), "progress": info["fraction"], "detail": info})


# --- users and audit -----------------------------------------------------------------------
class UserListView(GenericAPIView):
    """Admins: users and their roles; POST creates a user (or adds roles to one)."""

    permission_classes = [IsAdmin]
    serializer_class = s.UserCreateSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        rows = review.users_with_roles()
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([{"id": u.pk, "username": u.get_username(), "roles": roles} for u, roles in page or []])

    @extend_schema(request=s.UserCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = s.UserCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, created = user_create_or_update(username=body.validated_data["username"], password=body.validated_data["password"],
                                              roles=[Role(r) for r in body.validated_data["roles"]])
        return Response({"id": user.pk, "username": user.get_username(), "roles": sorted(r.value for r in user_roles(user=user)),
                         "created": created}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class UserRolesView(GenericAPIView):
    """Admins: add or remove one role of a user (recorded in the audit history)."""

    permission_classes = [IsAdmin]
    serializer_class = s.RoleChangeSerializer

    @extend_schema(request=s.RoleChangeSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        from django.contrib.auth import get_user_model

        user = get_object_or_404(get_user_model(), pk=user_id)
        body = s.RoleChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        role = Role(body.validated_data["role"])
        if body.validated_data["action"] == "add":
            review_services.user_role_add(user=user, role=role)
        else:
            review_services.user_role_remove(user=user, role=role)
        return Response({"id": user.pk, "username": user.get_username(), "roles": sorted(r.value for r in user_roles(user=user))})


class UserSessionsEndView(APIView):
    """Admins: log a user out of every browser session and revoke their API token."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        from django.contrib.auth import get_user_model

        from labeling.services.sessions import user_sessions_end

        user = get_object_or_404(get_user_model(), pk=user_id)
        epoch = user_sessions_end(user=user, by=request.user)
        return Response({"id": user.pk, "username": user.get_username(), "session_epoch": epoch})


AUDIT_PARAMS = [OpenApiParameter("kind", str, enum=list(AUDIT_KINDS), description="only this kind of change")]


def _audit_log(request: Request) -> AuditLog:
    kind = request.query_params.get("kind")
    if kind and kind not in AUDIT_KINDS:
        raise _bad_request(f"kind must be one of {', '.join(AUDIT_KINDS)}")
    return AuditLog((kind,) if kind else AUDIT_KINDS)


class AuditListView(GenericAPIView):
    """Admins: who changed annotations, gold labels, model promotion, settings and roles, when, before and after."""

    permission_classes = [IsAdmin]
    serializer_class = s.AuditEntrySerializer

    @extend_schema(parameters=AUDIT_PARAMS, responses=s.AuditEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_audit_log(request))  # type: ignore[arg-type]
        return self.get_paginated_response(s.AuditEntrySerializer([e.as_dict() for e in page or []], many=True).data)


class AuditExportView(APIView):
    """Admins: the whole audit history as a streamed CSV."""

    permission_classes = [IsAdmin]

    @extend_schema(parameters=AUDIT_PARAMS, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        log = _audit_log(request)

        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["at", "kind", "object_id", "action", "by", "before", "after"])
            for e in log:
                writer.writerow([e.at.isoformat(), e.kind, e.object_id, e.action, e.by or "",
                                 json.dumps(e.before, sort_keys=True, default=str) if e.before is not None else "",
                                 json.dumps(e.after, sort_keys=True, default=str) if e.after is not None else ""])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
            yield buffer.getvalue()

        return _stream(rows(), content_type="text/csv; charset=utf-8", filename="audit.csv")



# --- statistics ------------------------------------------------------------------------------
class StatisticsView(APIView):
    """Agreement and quality figures (cached up to 2 minutes while labels change),
    filtered by role in `labeling.statistics.statistics_for_user`."""

    permission_classes = [IsAnyRole]

    @extend_schema(parameters=[OpenApiParameter("mapping", str), OpenApiParameter("gold", str), OpenApiParameter("split", str)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from labeling.statistics import CURRENT_GOLD, statistics_for_user

        q = request.query_params
        try:
            stats = statistics_for_user(user=request.user, mapping=q.get("mapping", "full"), gold_version=q.get("gold", CURRENT_GOLD),
                                        split=q.get("split", "all"), max_stale_seconds=120)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        return Response(stats)
