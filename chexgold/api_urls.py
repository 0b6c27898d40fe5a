"""Routes of the REST API (/api/), namespace "api". Each concept's views live in
its app's `apis.py`; the URL names are stable (the access audit records them).
"""
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from accounts import apis as accounts_apis
from annotator import apis as annotator_apis
from labeling import apis as labeling_apis
from ml_worker import apis as ml_worker_apis
from privacy import apis as privacy_apis
from quality import apis as quality_apis

app_name = "api"

# The docs pages run third-party UIs (drf-spectacular-sidecar's Swagger UI and
# Redoc, served from static/): they need inline styles, Redoc an inline start-up
# script and a blob: worker. Only these two pages get that looser policy; the
# schema and the docs are for signed-in users only (SPECTACULAR_SETTINGS).
docs_csp = csp_update({"script-src": ["'unsafe-inline'"], "style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from its own URL (?script=), not inline.
    path("docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", docs_csp(SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")),
         name="redoc"),
    path("auth/token/", accounts_apis.TokenView.as_view(), name="token"),
    path("imports/", labeling_apis.ImportListView.as_view(), name="imports"),
    path("imports/<int:batch_id>/", labeling_apis.ImportDetailView.as_view(), name="import_detail"),
    path("imports/<int:batch_id>/withdraw/", annotator_apis.ImportWithdrawView.as_view(), name="import_withdraw"),
    path("imports/<int:batch_id>/restore/", annotator_apis.ImportRestoreView.as_view(), name="import_restore"),
    path("reports/", annotator_apis.ReportListView.as_view(), name="reports"),
    path("reports/next/", annotator_apis.NextReportView.as_view(), name="report_next"),
    path("progress/", annotator_apis.ReaderProgressView.as_view(), name="reader_progress"),
    path("reports/<int:report_id>/", annotator_apis.ReportDetailView.as_view(), name="report_detail"),
    path("rereads/<int:report_id>/submit/", annotator_apis.RereadSubmitView.as_view(), name="reread_submit"),
    path("annotations/", annotator_apis.AnnotationListView.as_view(), name="annotations"),
    path("annotations/<int:annotation_id>/", annotator_apis.AnnotationDetailView.as_view(), name="annotation_detail"),
    path("annotations/<int:annotation_id>/submit/", annotator_apis.AnnotationSubmitView.as_view(), name="annotation_submit"),
    path("annotations/<int:annotation_id>/reopen/", annotator_apis.AnnotationReopenView.as_view(), name="annotation_reopen"),
    path("adjudication/", annotator_apis.AdjudicationQueueView.as_view(), name="adjudication_queue"),
    path("adjudication/<int:report_id>/", annotator_apis.AdjudicationDetailView.as_view(), name="adjudication_detail"),
    path("gold/export/", labeling_apis.GoldExportView.as_view(), name="gold_export"),
    path("gold/versions/", annotator_apis.GoldVersionListView.as_view(), name="gold_versions"),
    path("gold/versions/compare/", annotator_apis.GoldVersionCompareView.as_view(), name="gold_versions_compare"),
    path("training-runs/", ml_worker_apis.TrainingRunListView.as_view(), name="training_runs"),
    path("training-runs/<int:run_id>/", ml_worker_apis.TrainingRunDetailView.as_view(), name="training_run_detail"),
    path("training-runs/<int:run_id>/cancel/", ml_worker_apis.TrainingRunCancelView.as_view(), name="training_run_cancel"),
    path("model-versions/", ml_worker_apis.ModelVersionListView.as_view(), name="model_versions"),
    path("model-versions/rollback/", ml_worker_apis.ModelVersionRollbackView.as_view(), name="model_version_rollback"),
    path("model-versions/<int:version_id>/promote/", ml_worker_apis.ModelVersionPromoteView.as_view(), name="model_version_promote"),
    path("predictions/export/", labeling_apis.PredictionExportView.as_view(), name="predictions_export"),
    path("label-studio/tasks/", labeling_apis.LabelStudioTasksView.as_view(), name="label_studio_tasks"),
    path("label-studio/config/", labeling_apis.LabelStudioConfigView.as_view(), name="label_studio_config"),
    path("labels/routed/", ml_worker_apis.RoutedLabelsView.as_view(), name="labels_routed"),
    path("labels/imports/", annotator_apis.LabelImportView.as_view(), name="label_imports"),
    path("tasks/<str:task_id>/", ml_worker_apis.TaskStatusView.as_view(), name="task_status"),
    path("users/", accounts_apis.UserListView.as_view(), name="users"),
    path("users/<int:user_id>/roles/", accounts_apis.UserRolesView.as_view(), name="user_roles"),
    path("users/<int:user_id>/deactivate/", accounts_apis.UserDeactivateView.as_view(), name="user_deactivate"),
    path("users/<int:user_id>/password/", accounts_apis.UserPasswordView.as_view(), name="user_password"),
    path("users/<int:user_id>/sessions/end/", privacy_apis.UserSessionsEndView.as_view(), name="user_sessions_end"),
    path("statistics/", quality_apis.StatisticsView.as_view(), name="statistics"),
    path("calibration/", annotator_apis.CalibrationSettingsView.as_view(), name="calibration_settings"),
    path("calibration/reports/", annotator_apis.CalibrationReportListView.as_view(), name="calibration_reports"),
    path("calibration/reports/<int:report_id>/", annotator_apis.CalibrationReportDetailView.as_view(),
         name="calibration_report_detail"),
    path("calibration/periods/", annotator_apis.CalibrationPeriodListView.as_view(), name="calibration_periods"),
    path("calibration/periods/end/", annotator_apis.CalibrationPeriodEndView.as_view(), name="calibration_period_end"),
    path("calibration/accuracy/", annotator_apis.CalibrationAccuracyView.as_view(), name="calibration_accuracy"),
    path("audit/", annotator_apis.AuditListView.as_view(), name="audit"),
    path("audit/export/", annotator_apis.AuditExportView.as_view(), name="audit_export"),
]
