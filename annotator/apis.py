"""REST API of the review workflow: reports, reads, re-reads, adjudication,
gold-set versions, the audit history. What a user may see is decided by
`annotator.selectors.access`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdjudicator, IsAdmin, IsAnyRole, IsReader, roles_of, user_of
from accounts.roles import Role
from annotator import selectors as review
from annotator import services as review_services
from annotator.selectors.access import report_visible_get, reports_visible
from annotator.selectors.reports import REPORT_STATUSES, annotations_of_reader, report_status, reports_filter
from annotator.services.label_import import FILE_FORMATS as LABEL_FILE_FORMATS
from annotator.services.label_import import KINDS as LABEL_IMPORT_KINDS
from annotator.services.label_import import LabelImportResult
from api.concurrency import call_with_version, expected_version, stale_as_http, with_etag
from api.exceptions import UploadInvalid
from api.http import bad_request, int_param, stream_download
from api.pagination import Pagination
from api.parsers import MultiPartParser
from api.problems import PROBLEM_CONTENT_TYPE, problem_body
from labeling.apis import LabelsField
from labeling.audit import AUDIT_KINDS, AuditCursor, AuditCursorInvalid, AuditEntry, AuditLog
from labeling.label_files import ZERO_MEANS
from labeling.models import Annotation, GoldSetVersion, LabelImport, Report
from labeling.observations import OBSERVATIONS, LabelValue
from labeling.selectors import gold_set_version_get
from privacy.services.access_audit import report_access_record


class ReportListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    patient_id = serializers.CharField(allow_null=True, help_text="admins only (null for other roles)")
    study_date = serializers.DateField(allow_null=True, help_text="admins only (null for other roles)")
    created_at = serializers.DateTimeField()


class AnnotationSerializer(serializers.ModelSerializer):
    report_external_id = serializers.CharField(source="report.external_id", read_only=True)

    class Meta:
        model = Annotation
        fields = ["id", "report", "report_external_id", "labels", "first_read_labels", "status", "version",
                  "time_spent_seconds", "created_at", "updated_at", "submitted_at"]
        read_only_fields = fields


class AnnotationCreateSerializer(serializers.Serializer):
    report = serializers.IntegerField(min_value=1)
    labels = LabelsField()
    time_spent_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)
    submit = serializers.BooleanField(
        required=False, default=False,
        help_text="Create and submit in one call (all 14 values; the same checks as annotations/<id>/submit/).",
    )
    override_warnings = serializers.BooleanField(required=False, default=False, help_text="With `submit`.")


class AnnotationWriteSerializer(serializers.Serializer):
    labels = LabelsField()
    version = serializers.IntegerField(required=False, min_value=0, help_text="Alternative to If-Match (409 when stale).")
    time_spent_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)


class AnnotationSubmitSerializer(AnnotationWriteSerializer):
    override_warnings = serializers.BooleanField(required=False, default=False)


class AnnotationReopenSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=0, help_text="Alternative to If-Match (409 when stale).")


class AdjudicationResolveSerializer(serializers.Serializer):
    labels = LabelsField()
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    version = serializers.IntegerField(
        required=False, min_value=0, help_text="Current gold label id you saw (0: none); alternative to If-Match."
    )


class GoldFreezeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


_OBS_BY_KEY = {**{o.value.lower(): o.value for o in OBSERVATIONS}, **{o.slug: o.value for o in OBSERVATIONS}}


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
    serializer_class = ReportListSerializer

    def get_queryset(self) -> Any:
        q = self.request.query_params
        status_ = q.get("status") or None
        if status_ is not None and status_ not in REPORT_STATUSES:
            raise bad_request(f"status must be one of {', '.join(REPORT_STATUSES)}")
        observation = q.get("observation") or None
        if observation is not None:
            observation = _OBS_BY_KEY.get(observation.strip().lower())
            if observation is None:
                raise bad_request("unknown observation")
        value = q.get("value") or None
        if value is not None and value not in LabelValue._value2member_map_:
            raise bad_request("value must be positive, negative, uncertain or blank")
        if bool(observation) != bool(value):
            raise bad_request("observation and value go together")
        source = q.get("source") or "rules"
        if source not in ("rules", "model"):
            raise bad_request("source must be rules or model")
        raw = q.get("disagreement")
        disagreement = None if raw in (None, "") else raw.lower() in ("1", "true", "yes")
        if disagreement is not None:
            review_services.report_priorities_refresh()  # the filter reads the rules-vs-model flag kept there
        qs = reports_visible(user=user_of(self.request), roles=roles_of(self.request))
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
        return self.get_paginated_response(ReportListSerializer(rows, many=True).data)


class ReportDetailView(APIView):
    """A report with sections, machine labels and evidence (offsets in UTF-16
    code units, as JavaScript counts). Readers also get their own annotation and,
    once the report is gold and they submitted a read, the gold labels."""

    permission_classes = [IsAnyRole]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, report_id: int) -> Response:
        data = _report_body(request, report_id)
        report_access_record(user=request.user, report_ids=[report_id], request=request)
        return Response(data)


def _report_body(request: Request, report_id: int) -> dict[str, Any]:
    """The body of GET reports/<id>/ (also `include=report` of reports/next/): the
    report as the caller may see it, found through the blinding policy
    (`reports_visible`, one report: `report_visible_get`). 404 when not theirs to see.
    The caller records the access."""
    roles = roles_of(request)
    privileged = bool(roles & {Role.ADMIN, Role.ADJUDICATOR})
    report = report_visible_get(user=user_of(request), roles=roles, report_id=report_id)
    if report is None:
        raise Http404("No such report, or not yours to see.")
    data: dict[str, Any] = {
        "id": report.id, "external_id": report.external_id, "status": report_status(report),
        **review.report_identifiers_for(user=user_of(request), report=report),
        "text": report.text, "sections": review.sections_for_js(report=report),
    }
    annotation = review.annotation_of_reader(reader=user_of(request), report=report) if Role.READER in roles else None
    submitted = annotation is not None and annotation.status == Annotation.Status.SUBMITTED
    hide_machine = (not privileged and not submitted and review_services.review_first_read_required(annotation=annotation))
    if hide_machine:
        data["machine_labels"] = None
    else:
        m = review.machine_labels_for_report(report=report)
        data["machine_labels"] = {
            "rules": m.rules, "rules_version": m.rules_version, "model": m.model, "model_version": m.model_version,
            "probabilities": m.probabilities, "evidence": m.evidence,
            # The routed pre-fill with its provenance; value null = not pre-filled (contested rows: choose).
            "prefill": {name: cell.as_dict() for name, cell in m.cells.items()},
            "routing": m.routing, "prefill_mode": m.mode,
        }
    if Role.READER in roles:
        data["my_annotation"] = AnnotationSerializer(annotation).data if annotation else None
        # Only a submitted read can have gold feedback (gold_feedback_for_reader asks for it again otherwise).
        gold = review.gold_feedback_for_reader(reader=user_of(request), report=report) if submitted else None
        data["gold"] = {"labels": gold.labels, "method": gold.method} if gold else None
    if privileged:
        gold = report.gold_labels.filter(is_current=True).first()
        data["gold"] = {"id": gold.id, "labels": gold.labels, "method": gold.method, "created_at": gold.created_at} if gold else None
    return data


class NextReportView(APIView):
    """Readers: reserve and return the next report to read (204 when none is left)."""

    permission_classes = [IsReader]

    @extend_schema(
        request=None, responses={200: OpenApiTypes.OBJECT, 204: None},
        parameters=[OpenApiParameter(
            "include", str, enum=["report"],
            description="`report`: the answer carries `report`, the body of GET reports/<id>/ (text, sections, "
                        "pre-fill, evidence, your annotation), so one request starts a read (not for re-reads)",
        )],
    )
    def post(self, request: Request) -> Response:
        include = request.query_params.get("include") or ""
        if include not in ("", "report"):
            raise bad_request("include must be report")
        reread = review_services.reread_next_assign(reader=user_of(request))
        if reread is not None:  # a deliberate re-read: no earlier labels, no machine labels
            report_access_record(user=request.user, report_ids=[reread.id], request=request)
            return Response({
                "id": reread.id, "external_id": reread.external_id, "text": reread.text, "reread": True,
                "submit_url": f"/api/rereads/{reread.id}/submit/", "annotation": None,
            })
        report = review_services.next_report_assign(reader=user_of(request))
        if report is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        body: dict[str, Any] = {"id": report.id, "external_id": report.external_id, "text": report.text,
                                "url": f"/api/reports/{report.id}/", "reread": False}
        if include == "report":
            # The same body and the same blinding checks as GET reports/<id>/; its annotation is ours.
            body["report"] = _report_body(request, report.id)
            body["annotation"] = body["report"].get("my_annotation")
        else:
            annotation = review.annotation_of_reader(reader=user_of(request), report=report)
            body["annotation"] = AnnotationSerializer(annotation).data if annotation else None
        report_access_record(user=request.user, report_ids=[report.id], request=request)
        return Response(body)


class RereadSubmitView(GenericAPIView):
    """Readers: submit a deliberate re-read handed out by `reports/next/` (all 14 values)."""

    permission_classes = [IsReader]
    serializer_class = AnnotationWriteSerializer

    @extend_schema(request=AnnotationWriteSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, report_id: int) -> Response:
        pending = review.reread_pending_get(reader=user_of(request), report_id=report_id)
        if pending is None:
            raise Http404("No re-read of this report is waiting for you.")
        body = AnnotationWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            saved = review_services.reread_submit(
                reader=user_of(request), report=pending.report, labels=body.validated_data["labels"],
                time_spent_seconds=body.validated_data.get("time_spent_seconds"),
            )
        except review_services.ReviewError as exc:
            raise bad_request(str(exc)) from None
        return Response({"report": report_id, "labels": saved.labels, "submitted_at": saved.submitted_at})


class AnnotationListView(ListAPIView):
    """Readers: their own annotations. POST creates a draft for a report handed to them,
    or with `"submit": true` creates and submits the read in one call."""

    permission_classes = [IsReader]
    serializer_class = AnnotationSerializer

    def get_queryset(self) -> Any:
        return annotations_of_reader(reader=user_of(self.request))

    @extend_schema(request=AnnotationCreateSerializer, responses={201: AnnotationSerializer})
    def post(self, request: Request) -> Response:
        body = AnnotationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = review.report_for_reader(reader=user_of(request), report_id=body.validated_data["report"])
        if report is None:
            raise Http404("No such report in your queue.")
        if body.validated_data["submit"]:
            # A read in one request: the submit service with "no annotation yet" (version 0) as the
            # expected version, so a draft saved meanwhile answers 409 as a second create would.
            result = review_services.annotation_submit(
                reader=user_of(request), report=report, labels=body.validated_data["labels"], expected_version=0,
                time_spent_seconds=body.validated_data.get("time_spent_seconds"),
                override_warnings=body.validated_data["override_warnings"],
            )
            if not result.submitted:
                return _consistency_warnings_answer(result)
            submitted = result.annotation
            assert submitted is not None
            return with_etag(Response(AnnotationSerializer(submitted).data, status=status.HTTP_201_CREATED), submitted.version)
        annotation = review_services.annotation_draft_save(
            reader=user_of(request), report=report, labels=body.validated_data["labels"], expected_version=0,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
        )
        return with_etag(Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED), annotation.version)


def _consistency_warnings_answer(result: review_services.SubmitResult) -> Response:
    """400 listing the consistency warnings of a submit that saved nothing."""
    return Response(problem_body(
        400, "The labels look inconsistent; check them or resend with override_warnings=true.",
        "consistency_warnings", warnings=[str(w) for w in result.warnings],
    ), status=status.HTTP_400_BAD_REQUEST, content_type=PROBLEM_CONTENT_TYPE)


def _own_annotation(request: Request, annotation_id: int) -> Annotation:
    annotation = review.annotation_visible_get(user=user_of(request), annotation_id=annotation_id)
    if annotation is None:
        raise Http404("No such annotation.")  # another reader's: 404, not 403 (existence is not revealed)
    return annotation


class AnnotationDetailView(GenericAPIView):
    """Readers: one of their annotations (ETag = version); PATCH/PUT saves a draft
    (If-Match or `version` required)."""

    permission_classes = [IsReader]
    serializer_class = AnnotationWriteSerializer

    @extend_schema(responses=AnnotationSerializer)
    def get(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        return with_etag(Response(AnnotationSerializer(annotation).data), annotation.version)

    @extend_schema(request=AnnotationWriteSerializer, responses=AnnotationSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def patch(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        body = AnnotationWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = call_with_version(request, lambda v: review_services.annotation_draft_save(
            reader=user_of(request), report=annotation.report, labels=body.validated_data["labels"], expected_version=v,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
        ))
        return with_etag(Response(AnnotationSerializer(saved).data), saved.version)

    put = patch


class AnnotationSubmitView(GenericAPIView):
    """Readers: submit an annotation (all 14 values; If-Match or `version` required).
    Consistency warnings without `override_warnings` -> 400 listing them, nothing saved."""

    permission_classes = [IsReader]
    serializer_class = AnnotationSubmitSerializer

    @extend_schema(request=AnnotationSubmitSerializer, responses=AnnotationSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        body = AnnotationSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = call_with_version(request, lambda v: review_services.annotation_submit(
            reader=user_of(request), report=annotation.report, labels=body.validated_data["labels"], expected_version=v,
            time_spent_seconds=body.validated_data.get("time_spent_seconds"),
            override_warnings=body.validated_data["override_warnings"],
        ))
        if not result.submitted:
            return _consistency_warnings_answer(result)
        data = AnnotationSerializer(result.annotation).data
        # Nothing about gold: it would tell a second reader whether the first agreed (access.gold_feedback_due).
        return with_etag(Response(data), result.annotation.version)  # type: ignore[union-attr]


class ReaderProgressSerializer(serializers.Serializer):
    today = serializers.IntegerField(help_text="Reads you submitted today")
    this_week = serializers.IntegerField(help_text="Reads you submitted since Monday")
    awaiting_reads = serializers.IntegerField(help_text="Reports (no gold, not flagged) that still need reads")
    median_seconds = serializers.FloatField(allow_null=True, help_text="Your median time per report, seconds")


class ReaderProgressView(APIView):
    """Readers: their own progress (reads today and this week, reports awaiting
    reads, their median seconds per report)."""

    permission_classes = [IsReader]

    @extend_schema(responses=ReaderProgressSerializer)
    def get(self, request: Request) -> Response:
        return Response(ReaderProgressSerializer(review.reader_progress(reader=user_of(request))).data)


class AnnotationReopenView(GenericAPIView):
    """Readers: reopen their own submitted read as a draft to change it (If-Match or
    `version` required). 409 problem `read_used` once the report is gold or awaits
    adjudication; the submitted values stay in the audit history."""

    permission_classes = [IsReader]
    serializer_class = AnnotationReopenSerializer

    @extend_schema(request=AnnotationReopenSerializer, responses=AnnotationSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation = _own_annotation(request, annotation_id)
        AnnotationReopenSerializer(data=request.data).is_valid(raise_exception=True)
        reopened = call_with_version(request, lambda v: review_services.annotation_reopen(
            reader=user_of(request), report=annotation.report, expected_version=v,
        ))
        return with_etag(Response(AnnotationSerializer(reopened).data), reopened.version)


class AdjudicationQueueView(APIView):
    """Adjudicators: reports with k reads and no gold that they did not read, most conflicts first."""

    permission_classes = [IsAdjudicator]

    @extend_schema(operation_id="adjudication_queue", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        items = review.adjudication_queue(adjudicator=user_of(request))
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
    serializer_class = AdjudicationResolveSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, report_id: int) -> Response:
        view = review.adjudication_view_get(adjudicator=user_of(request), report_id=report_id)
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
            "history": [
                {"id": g.id, "method": g.method, "labels": g.labels, "is_current": g.is_current, "created_at": g.created_at,
                 "adjudicator": g.adjudicator.get_username() if g.adjudicator else None, "rationale": g.rationale}
                for g in review.gold_history_of_report(report_id=view.report.id)
            ],
        }
        return with_etag(Response(data), gold_id)

    @extend_schema(request=AdjudicationResolveSerializer, responses={200: OpenApiTypes.OBJECT},
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)])
    def post(self, request: Request, report_id: int) -> Response:
        report = get_object_or_404(Report, id=report_id)
        body = AdjudicationResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        expected = expected_version(request)
        with stale_as_http(expected):
            gold = review_services.gold_adjudicate(
                report=report, adjudicator=user_of(request), labels=body.validated_data["labels"],
                rationale=body.validated_data["rationale"], expected_current_gold_id=expected.value or None,
            )
        return with_etag(Response({"gold_id": gold.id, "labels": gold.labels, "method": gold.method,
                                   "supersedes": gold.supersedes_id}), gold.id)


def _version_dict(v: GoldSetVersion) -> dict[str, Any]:
    return {"name": v.name, "note": v.note, "size": getattr(v, "size", None),
            "created_by": v.created_by.get_username() if v.created_by else None, "created_at": v.created_at}


class GoldVersionListView(GenericAPIView):
    """Admins: frozen gold-set versions; POST freezes the current gold set under a name."""

    permission_classes = [IsAdmin]
    serializer_class = GoldFreezeSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(review.gold_set_versions())
        return self.get_paginated_response([_version_dict(v) for v in page or []])

    @extend_schema(request=GoldFreezeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = GoldFreezeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = review_services.gold_set_version_freeze(user=user_of(request), **body.validated_data)
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


# --- prior labels imported from a file ---------------------------------------------------
# "as" is a Python keyword, so the request serializer is built with type().
LabelImportRequestSerializer = type("LabelImportRequestSerializer", (serializers.Serializer,), {
    "file": serializers.FileField(help_text="CheXpert-convention CSV (id or report text column + the 14 observations) or JSONL"),
    "as": serializers.ChoiceField(choices=LABEL_IMPORT_KINDS, help_text="gold, reads (of `reader`) or predictions (of `labeler`)"),
    "reader": serializers.CharField(required=False, allow_blank=True, max_length=150,
                                    help_text="reads: the reader's username (created with the reader role and no password if missing)"),
    "labeler": serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="predictions: the labeler's name"),
    "zero_means": serializers.ChoiceField(choices=ZERO_MEANS, default="negative",
                                          help_text="how a 0 cell is read: negative (CheXpert) or blank (positive-only references)"),
    "replace": serializers.BooleanField(default=False, help_text="gold: supersede differing current gold"),
    "format": serializers.ChoiceField(choices=LABEL_FILE_FORMATS, default="auto",
                                      help_text="auto (CheXpert CSV or JSONL) or label-studio (a Label Studio JSON export)"),
})


class LabelImportSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    gold_set_version = serializers.CharField(source="gold_set_version.name", default=None, read_only=True)

    class Meta:
        model = LabelImport
        fields = ["id", "filename", "kind", "name", "zero_means", "replace", "created_by", "created_at", "rows_read",
                  "rows_created", "rows_replaced", "rows_unchanged", "gold_set_version", "message"]
        read_only_fields = fields


def _label_import_result_dict(result: LabelImportResult) -> dict[str, Any]:
    return {
        "import_id": result.label_import.id if result.label_import else None, "kind": result.kind, "filename": result.filename,
        "changed": result.changed, "rows_read": result.rows_read, "created": result.created, "replaced": result.replaced,
        "unchanged": result.unchanged, "gold_version": result.gold_version, "reader": result.reader,
        "reader_created": result.reader_created, "labeler": result.labeler, "became_gold": result.became_gold,
        "awaiting_adjudication": result.awaiting_adjudication, "notes": result.notes, "message": result.message,
    }


class LabelImportView(ListAPIView):
    """Admins: recent label imports; POST a label file (multipart `file`, `as`,
    `reader` / `labeler`, `zero_means`, `replace`) to import it as gold, as a
    reader's reads or as an external labeler's predictions. The file is checked
    whole first: any bad row answers 400 listing every one, nothing written.
    201 when something was written, 200 when every row was unchanged."""

    permission_classes = [IsAdmin]
    serializer_class = LabelImportSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        return LabelImport.objects.select_related("created_by", "gold_set_version").order_by("-created_at", "-id")

    @extend_schema(request={"multipart/form-data": LabelImportRequestSerializer},
                   responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = LabelImportRequestSerializer(data=request.data)
        if not body.is_valid():
            problems = [{"line": 0, "column": None, "message": f"{field}: {' '.join(str(m) for m in messages)}"}
                        for field, messages in body.errors.items()]
            raise UploadInvalid("Send multipart/form-data with `file` and `as` (gold, reads or predictions).", problems)
        data = body.validated_data
        result = review_services.label_upload_import(
            upload=data["file"], kind=data["as"], user=user_of(request), reader=data.get("reader") or None,
            labeler=data.get("labeler") or None, zero_means=data["zero_means"], replace=data["replace"],
            file_format=data["format"],
        )
        if not result.ok:
            listed = [{"line": e.line, "column": e.column, "message": e.message} for e in result.errors]
            raise UploadInvalid(f"{len(listed)} problem(s) in {result.filename}; nothing was imported.", listed)
        return Response(_label_import_result_dict(result), status=status.HTTP_201_CREATED if result.changed else status.HTTP_200_OK)


# --- withdrawing an import batch --------------------------------------------------------------
class ImportWithdrawRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text="why (kept with the batch)")


class ImportWithdrawView(APIView):
    """Admins: withdraw import batch `batch_id` (`annotator.services.gold.import_batch_withdraw`).
    Its reports leave the queues, statistics and exports; a gold-set version
    without them is frozen when they had gold; nothing is deleted. 409 when
    already withdrawn or still importing."""

    permission_classes = [IsAdmin]

    @extend_schema(request=ImportWithdrawRequestSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, batch_id: int) -> Response:
        body = ImportWithdrawRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = review_services.import_batch_withdraw(batch_id=batch_id, user=user_of(request), reason=body.validated_data.get("reason", ""))
        batch = result.batch
        return Response({
            "id": batch.id, "filename": batch.filename, "withdrawn_at": batch.withdrawn_at,
            "withdrawn_by": batch.withdrawn_by.username if batch.withdrawn_by else None, "reason": batch.withdraw_reason,
            "reports": result.reports, "gold_version": result.gold_version, "model_versions": result.model_versions,
            "message": result.message,
        })


class ImportRestoreView(APIView):
    """Admins: undo the withdrawal of import batch `batch_id` (`annotator.services.gold.import_batch_restore`).
    Its reports return to the queues, statistics and exports; their gold is current again in a
    new frozen gold-set version; the model cards that noted the withdrawal note the restore;
    the withdrawal stays in the audit history. 409 when the batch is not withdrawn."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, batch_id: int) -> Response:
        result = review_services.import_batch_restore(batch_id=batch_id, user=user_of(request))
        return Response({
            "id": result.batch.id, "filename": result.batch.filename, "reports": result.reports,
            "gold_version": result.gold_version, "model_versions": result.model_versions, "message": result.message,
        })


# --- audit history (review tables, models, settings, roles) ---------------------------------
class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    object_id = serializers.IntegerField()
    action = serializers.CharField()
    by = serializers.CharField(allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


AUDIT_PARAMS = [OpenApiParameter("kind", str, enum=list(AUDIT_KINDS), description="only this kind of change")]
# Page numbers reach this many entries deep; beyond, `cursor` pages (a page number
# makes every table read and merge all rows up to the page).
AUDIT_PAGE_DEPTH = 10_000
AUDIT_LIST_PARAMS = [
    *AUDIT_PARAMS,
    OpenApiParameter("cursor", str, description="`next_cursor` of the previous answer: the next page, as fast at any depth "
                                                "(no `count`). Without it, `page` numbers reach the first "
                                                f"{AUDIT_PAGE_DEPTH:,} entries."),
    OpenApiParameter("page", int), OpenApiParameter("page_size", int),
]


class AuditPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(allow_null=True, help_text="All entries (page numbers); null when paging by cursor.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page.")
    results = AuditEntrySerializer(many=True)


def _audit_log(request: Request) -> AuditLog:
    kind = request.query_params.get("kind")
    if kind and kind not in AUDIT_KINDS:
        raise bad_request(f"kind must be one of {', '.join(AUDIT_KINDS)}")
    # Annotation and gold entries of reports the viewer reads or holds (not gold
    # yet) are left out: an admin who also reads must not see the other reads.
    return AuditLog((kind,) if kind else AUDIT_KINDS, hidden_report_ids=review.report_ids_hidden_from(user=user_of(request)))


class AuditListView(GenericAPIView):
    """Admins: who changed annotations, gold labels, model promotion, settings and roles, when, before and after.
    Newest first; `next_cursor` pages on at any depth, page numbers up to the first 10,000 entries."""

    permission_classes = [IsAdmin]
    serializer_class = AuditEntrySerializer

    @extend_schema(parameters=AUDIT_LIST_PARAMS, responses=AuditPageSerializer)
    def get(self, request: Request) -> Response:
        log = _audit_log(request)
        paginator = self.paginator
        assert paginator is not None
        size = paginator.get_page_size(request) or 50  # type: ignore[attr-defined]
        raw_cursor = request.query_params.get("cursor")
        if raw_cursor is not None:
            try:
                cursor = AuditCursor.decode(raw_cursor) if raw_cursor else None
            except AuditCursorInvalid as exc:
                raise bad_request(str(exc)) from None
            entries, following = log.page_after(cursor, size)
            next_url = None
            if following is not None:
                next_url = request.build_absolute_uri(_replace_query(request, cursor=following.encode()))
            return Response({"count": None, "next": next_url, "previous": None,
                             "next_cursor": following.encode() if following else None,
                             "results": AuditEntrySerializer([e.as_dict() for e in entries], many=True).data})
        page_number = int_param(request, "page") or 1
        if page_number * size > AUDIT_PAGE_DEPTH:
            raise bad_request(f"page numbers reach the first {AUDIT_PAGE_DEPTH:,} entries; page deeper with cursor= "
                              "(start without one and follow next_cursor)")
        page: list[AuditEntry] | None = self.paginate_queryset(log)  # type: ignore[arg-type]
        rows = page or []
        response = self.get_paginated_response(AuditEntrySerializer([e.as_dict() for e in rows], many=True).data)
        # The place after this page, to go on by cursor (deeper than page numbers reach).
        response.data["next_cursor"] = AuditCursor.of(rows[-1]).encode() if rows and response.data.get("next") else None
        return response


def _replace_query(request: Request, **params: str) -> str:
    query = request.query_params.copy()
    query.pop("page", None)
    for key, value in params.items():
        query[key] = value
    return f"{request.path}?{query.urlencode()}"


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

        return stream_download(rows(), content_type="text/csv; charset=utf-8", filename="audit.csv")


# --- calibration reports (admins only; readers never learn which reports these are) ----
class CalibrationRateSerializer(serializers.Serializer):
    every = serializers.IntegerField(min_value=0, help_text="About one in `every` next-report requests (0 = off).")


class CalibrationMarkSerializer(serializers.Serializer):
    report = serializers.IntegerField(min_value=1)


def _period_dict(p: Any) -> dict[str, Any]:
    return {"id": p.id, "started_at": p.started_at, "ended_at": p.ended_at,
            "started_by": p.started_by.get_username() if p.started_by else None,
            "ended_by": p.ended_by.get_username() if p.ended_by else None}


def _calibration_settings() -> dict[str, Any]:
    period = review.calibration_period_open()
    return {"every": review.review_settings_get().calibration_every, "open_period": _period_dict(period) if period else None}


class CalibrationSettingsView(GenericAPIView):
    """Admins: the calibration rate (one in `every` next-report requests, 0 = off) and the open period."""

    permission_classes = [IsAdmin]
    serializer_class = CalibrationRateSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(_calibration_settings())

    @extend_schema(request=CalibrationRateSerializer, responses={200: OpenApiTypes.OBJECT})
    def patch(self, request: Request) -> Response:
        body = CalibrationRateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review_services.calibration_rate_set(every=body.validated_data["every"])
        return Response(_calibration_settings())

    put = patch


class CalibrationReportListView(GenericAPIView):
    """Admins: calibration reports; POST marks a gold report as one."""

    permission_classes = [IsAdmin]
    serializer_class = CalibrationMarkSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(review.calibration_reports())
        return self.get_paginated_response([
            {"report": c.report_id, "external_id": c.report.external_id, "is_active": c.is_active, "marked_at": c.marked_at}
            for c in page or []
        ])

    @extend_schema(request=CalibrationMarkSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = CalibrationMarkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = get_object_or_404(Report, id=body.validated_data["report"])
        row = review_services.calibration_report_mark(report=report, admin=user_of(request))
        return Response({"report": row.report_id, "is_active": row.is_active, "marked_at": row.marked_at},
                        status=status.HTTP_201_CREATED)


class CalibrationReportDetailView(APIView):
    """Admins: DELETE takes a report out of calibration (its reads stay measured)."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, report_id: int) -> Response:
        review_services.calibration_report_unmark(report=get_object_or_404(Report, id=report_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalibrationPeriodListView(GenericAPIView):
    """Admins: calibration periods; POST opens one (calibration reports are served only while one is open)."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(review.calibration_periods().select_related("started_by", "ended_by"))
        return self.get_paginated_response([_period_dict(p) for p in page or []])

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        period = review_services.calibration_period_start(admin=user_of(request))
        return Response(_period_dict(period), status=status.HTTP_201_CREATED)


class CalibrationPeriodEndView(APIView):
    """Admins: end the open period; readers then see gold feedback on its calibration reads."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        return Response(_period_dict(review_services.calibration_period_end(admin=user_of(request))))


class CalibrationAccuracyView(APIView):
    """Admins: each reader's accuracy on calibration reports against gold: overall,
    per observation, per ISO week (drift) and per hour of the reading session (fatigue)."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response({"readers": [r.as_dict() for r in review.calibration_accuracy()]})
