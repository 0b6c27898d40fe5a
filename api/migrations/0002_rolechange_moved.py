"""RoleChange now belongs to the `accounts` app (accounts 0001): removed from this
app's state only; the table and its rows stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RoleChange")],
            database_operations=[],
        ),
    ]
