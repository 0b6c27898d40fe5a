"""ReportAccess and SessionEpoch now belong to the `privacy` app (privacy 0001):
removed from this app's state only; their tables and rows stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("labeling", "0005_report_access_append_only_pg"),
        ("privacy", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ReportAccess"),
                migrations.DeleteModel(name="SessionEpoch"),
            ],
            database_operations=[],
        ),
    ]
