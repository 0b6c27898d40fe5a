from django.urls import path

from operations import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("health/", views.ReadinessView.as_view(checks=views.readiness_checks()), name="health"),
    path("metrics", views.metrics, name="metrics"),
]
