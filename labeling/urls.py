from django.urls import path

from labeling import views

app_name = "labeling"
urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/<int:batch_id>/status", views.import_status, name="import_status"),
    path("exports/gold", views.gold_export_download, name="gold_export"),
    path("exports/label-studio", views.label_studio_export_download, name="label_studio_export"),
]
