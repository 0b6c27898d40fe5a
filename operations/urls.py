from django.urls import path

from operations import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("health/", views.ReadinessView.as_view(), name="health"),
    path("metrics", views.metrics, name="metrics"),
]
