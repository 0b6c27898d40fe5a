"""The pre-fill mode replaces the independent-first-read switch: a site that had
independent first read on gets `prefill = none` (the same behaviour)."""

from django.db import migrations, models


def first_read_to_prefill(apps, schema_editor):  # type: ignore[no-untyped-def]
    ReviewSettings = apps.get_model("annotator", "ReviewSettings")
    ReviewSettings.objects.filter(independent_first_read=True).update(prefill="none")


def prefill_to_first_read(apps, schema_editor):  # type: ignore[no-untyped-def]
    ReviewSettings = apps.get_model("annotator", "ReviewSettings")
    ReviewSettings.objects.filter(prefill="none").update(independent_first_read=True)


class Migration(migrations.Migration):

    dependencies = [
        ("annotator", "0005_gold_integrity"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewsettings",
            name="prefill",
            field=models.CharField(choices=[("uncontested", "Uncontested values only (contested rows left for the reader)"), ("routed", "All values from the routed source"), ("none", "None: independent first read, machine labels shown after it")], default="uncontested", max_length=16),
        ),
        migrations.RunPython(first_read_to_prefill, prefill_to_first_read),
        migrations.RemoveField(
            model_name="reviewsettings",
            name="independent_first_read",
        ),
    ]
