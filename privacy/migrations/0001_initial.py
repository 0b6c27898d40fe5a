"""ReportAccess and SessionEpoch move here from `labeling` without touching data:
state only (the tables keep their names, labeling_reportaccess and
labeling_sessionepoch, and the PostgreSQL append-only trigger of labeling 0005
keeps guarding the first). Content types follow the models so permissions and
admin log entries stay attached."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_types_follow(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("reportaccess", "sessionepoch"):
        if not ContentType.objects.filter(app_label="privacy", model=model).exists():
            ContentType.objects.filter(app_label="labeling", model=model).update(app_label="privacy")


def content_types_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("reportaccess", "sessionepoch"):
        if not ContentType.objects.filter(app_label="labeling", model=model).exists():
            ContentType.objects.filter(app_label="privacy", model=model).update(app_label="labeling")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("labeling", "0005_report_access_append_only_pg"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SessionEpoch",
                    fields=[
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="session_epoch", serialize=False, to=settings.AUTH_USER_MODEL)),
                        ("epoch", models.PositiveIntegerField(default=0)),
                        ("changed_at", models.DateTimeField(auto_now=True)),
                        ("changed_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "labeling_sessionepoch"},
                ),
                migrations.CreateModel(
                    name="ReportAccess",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("username", models.CharField(blank=True, max_length=150)),
                        ("channel", models.CharField(db_index=True, max_length=100)),
                        ("method", models.CharField(blank=True, max_length=8)),
                        ("path", models.CharField(blank=True, max_length=500)),
                        ("ip", models.GenericIPAddressField(blank=True, null=True)),
                        ("report_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("report_count", models.PositiveIntegerField(default=0)),
                        ("report_ids", models.TextField(blank=True)),
                        ("user", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "labeling_reportaccess",
                        "verbose_name": "report access",
                        "verbose_name_plural": "report access audit",
                        "ordering": ["-at", "-id"],
                        "indexes": [models.Index(fields=["user", "at"], name="reportaccess_user_at")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_back),
    ]
