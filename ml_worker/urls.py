from django.urls import path

from ml_worker import views

app_name = "ml_worker"
urlpatterns = [
    path("training/", views.training_run_list, name="training_runs"),
    path("training/<int:run_id>/status", views.training_run_status, name="training_run_status"),
    path("training/<int:run_id>/cancel", views.training_run_cancel_view, name="training_run_cancel"),
    path("models/", views.model_version_list, name="model_versions"),
    path("models/<int:version_id>/promote", views.model_version_promote_view, name="model_version_promote"),
]
