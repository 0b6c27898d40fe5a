"""Input validation and output shapes (also what the OpenAPI schema shows).
No business rules here: the services decide."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from labeling.models import Annotation, ImportBatch, ModelVersion
from labeling.observations import OBSERVATION_NAMES, LabelValue
from labeling.roles import Role
from ml_worker.models import TrainingRun

LABEL_CHOICES = [v.value for v in LabelValue]
ROLE_CHOICES = [r.value for r in Role]


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
                  "errors", "deid_findings", "created_at", "started_at", "finished_at", "task"]

    def get_task(self, obj: ImportBatch) -> str:
        return f"import-{obj.id}"


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


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


class AnnotationWriteSerializer(serializers.Serializer):
    labels = LabelsField()
    version = serializers.IntegerField(required=False, min_value=0, help_text="Alternative to If-Match (409 when stale).")
    time_spent_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)


class AnnotationSubmitSerializer(AnnotationWriteSerializer):
    override_warnings = serializers.BooleanField(required=False, default=False)


class AdjudicationResolveSerializer(serializers.Serializer):
    labels = LabelsField()
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    version = serializers.IntegerField(
        required=False, min_value=0, help_text="Current gold label id you saw (0: none); alternative to If-Match."
    )


class GoldFreezeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class TrainingRunCreateSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=TrainingRun.Stage.values)
    base = serializers.ChoiceField(choices=["active", "encoder"], default="active")
    overrides = serializers.DictField(required=False, default=dict)


class TrainingRunSerializer(serializers.ModelSerializer):
    produced_version = serializers.CharField(source="produced_version.name", default=None, read_only=True)
    started_by = serializers.CharField(source="started_by.username", default=None, read_only=True)
    task = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "stage", "status", "trigger", "progress", "metrics", "cancel_requested", "produced_version",
                  "started_by", "created_at", "started_at", "finished_at", "task"]
        read_only_fields = fields

    def get_task(self, obj: TrainingRun) -> str:
        return f"training-{obj.id}"


class ModelVersionSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.name", default=None, read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "stage", "is_active", "parent", "metrics", "model_card", "created_at", "promoted_at"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    password = serializers.CharField(min_length=8, max_length=128, write_only=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLE_CHOICES), allow_empty=False)


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    action = serializers.ChoiceField(choices=["add", "remove"])


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    object_id = serializers.IntegerField()
    action = serializers.CharField()
    by = serializers.CharField(allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
