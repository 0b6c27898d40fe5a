"""RoleChange moves here from the `api` app without touching data: state only
(the table keeps its name, api_rolechange). Its content type follows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_follows(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="accounts", model="rolechange").exists():
        ContentType.objects.filter(app_label="api", model="rolechange").update(app_label="accounts")


def content_type_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="api", model="rolechange").exists():
        ContentType.objects.filter(app_label="accounts", model="rolechange").update(app_label="api")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("api", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RoleChange",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("role", models.CharField(max_length=150)),
                        ("action", models.CharField(choices=[("granted", "Granted"), ("revoked", "Revoked")], max_length=8)),
                        ("roles_before", models.JSONField(default=list)),
                        ("roles_after", models.JSONField(default=list)),
                        ("changed_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("changed_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="role_changes_made", to=settings.AUTH_USER_MODEL)),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="role_changes", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "api_rolechange", "ordering": ["-changed_at", "-id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows, content_type_back),
    ]
