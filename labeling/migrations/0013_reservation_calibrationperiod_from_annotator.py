"""Reservation and CalibrationPeriod move here from `annotator` without touching
data: state only (the tables keep their names, annotator_reservation and
annotator_calibrationperiod, and their indexes and constraints theirs). Content
types follow the models so permissions and admin log entries stay attached."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("reservation", "calibrationperiod")


def content_types_follow(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="labeling", model=model).exists():
            ContentType.objects.filter(app_label="annotator", model=model).update(app_label="labeling")


def content_types_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="annotator", model=model).exists():
            ContentType.objects.filter(app_label="labeling", model=model).update(app_label="annotator")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("labeling", "0012_annotation_calibration"),
        ("annotator", "0008_reservation_calibrationperiod_to_labeling"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Reservation",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("state", models.CharField(choices=[("active", "Active"), ("skipped", "Skipped")], default="active", max_length=8)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("expires_at", models.DateTimeField()),
                        ("is_calibration", models.BooleanField(default=False)),
                        ("reader", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="reservations", to=settings.AUTH_USER_MODEL)),
                        ("report", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="reservations", to="labeling.report")),
                    ],
                    options={
                        "db_table": "annotator_reservation",
                        "indexes": [
                            models.Index(fields=["report", "state", "expires_at"], name="annotator_r_report__eceb19_idx"),
                            models.Index(fields=["reader", "state", "expires_at"], name="annotator_r_reader__a3277a_idx"),
                        ],
                        "constraints": [models.UniqueConstraint(fields=("report", "reader"), name="one_reservation_per_reader_per_report")],
                    },
                ),
                migrations.CreateModel(
                    name="CalibrationPeriod",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("started_at", models.DateTimeField()),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        ("ended_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("started_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "annotator_calibrationperiod",
                        "ordering": ["-started_at", "-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_back),
    ]
