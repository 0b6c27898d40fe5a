from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("imports/", views.ImportListView.as_view(), name="imports"),
    path("imports/<int:batch_id>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("reports/", views.ReportListView.as_view(), name="reports"),
    path("reports/next/", views.NextReportView.as_view(), name="report_next"),
    path("reports/<int:report_id>/", views.ReportDetailView.as_view(), name="report_detail"),
    path("rereads/<int:report_id>/submit/", views.RereadSubmitView.as_view(), name="reread_submit"),
    path("annotations/", views.AnnotationListView.as_view(), name="annotations"),
    path("annotations/<int:annotation_id>/", views.AnnotationDetailView.as_view(), name="annotation_detail"),
    path("annotations/<int:annotation_id>/submit/", views.AnnotationSubmitView.as_view(), name="annotation_submit"),
    path("adjudication/", views.AdjudicationQueueView.as_view(), name="adjudication_queue"),
    path("adjudication/<int:report_id>/", views.AdjudicationDetailView.as_view(), name="adjudication_detail"),
    path("gold/export/", views.GoldExportView.as_view(), name="gold_export"),
    path("gold/versions/", views.GoldVersionListView.as_view(), name="gold_versions"),
    path("gold/versions/compare/", views.GoldVersionCompareView.as_view(), name="gold_versions_compare"),
    path("training-runs/", views.TrainingRunListView.as_view(), name="training_runs"),
    path("training-runs/<int:run_id>/", views.TrainingRunDetailView.as_view(), name="training_run_detail"),
    path("training-runs/<int:run_id>/cancel/", views.TrainingRunCancelView.as_view(), name="training_run_cancel"),
    path("model-versions/", views.ModelVersionListView.as_view(), name="model_versions"),
    path("model-versions/rollback/", views.ModelVersionRollbackView.as_view(), name="model_version_rollback"),
    path("model-versions/<int:version_id>/promote/", views.ModelVersionPromoteView.as_view(), name="model_version_promote"),
    path("predictions/export/", views.PredictionExportView.as_view(), name="predictions_export"),
    path("tasks/<str:task_id>/", views.TaskStatusView.as_view(), name="task_status"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("users/<int:user_id>/roles/", views.UserRolesView.as_view(), name="user_roles"),
    path("users/<int:user_id>/sessions/end/", views.UserSessionsEndView.as_view(), name="user_sessions_end"),
    path("statistics/", views.StatisticsView.as_view(), name="statistics"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    path("audit/export/", views.AuditExportView.as_view(), name="audit_export"),
]
