"""The pre-fill mode (labeling.RuntimeSettings.prefill) replaces the
independent-first-read switch: a site that had it on gets `prefill = none`
(the same behaviour)."""

from django.db import migrations


def first_read_to_prefill(apps, schema_editor):  # type: ignore[no-untyped-def]
    ReviewSettings = apps.get_model("annotator", "ReviewSettings")
    RuntimeSettings = apps.get_model("labeling", "RuntimeSettings")
    if ReviewSettings.objects.filter(independent_first_read=True).exists():
        RuntimeSettings.objects.update(prefill="none")


def prefill_to_first_read(apps, schema_editor):  # type: ignore[no-untyped-def]
    ReviewSettings = apps.get_model("annotator", "ReviewSettings")
    RuntimeSettings = apps.get_model("labeling", "RuntimeSettings")
    if RuntimeSettings.objects.filter(prefill="none").exists():
        ReviewSettings.objects.update(independent_first_read=True)


class Migration(migrations.Migration):

    dependencies = [
        ("annotator", "0005_gold_integrity"),
        ("labeling", "0009_runtime_prefill_mode"),
    ]

    operations = [
        migrations.RunPython(first_read_to_prefill, prefill_to_first_read),
        migrations.RemoveField(model_name="reviewsettings", name="independent_first_read"),
    ]
