from django.urls import path

from privacy import views as privacy_views

app_name = "privacy"
urlpatterns = [
    path("access-log/", privacy_views.access_log, name="access_log"),
    path("access-log.csv", privacy_views.access_log_csv, name="access_log_csv"),
    path("keepalive", privacy_views.keepalive, name="keepalive"),
]
