from django.urls import path

from quality import views as statistics_views

app_name = "statistics"

urlpatterns = [
    path("", statistics_views.statistics_dashboard, name="dashboard"),
    path("<slug:slug>.csv", statistics_views.statistics_table_csv, name="table_csv"),
]
