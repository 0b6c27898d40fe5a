"""Reservation and CalibrationPeriod now belong to the `labeling` app (labeling
0013_reservation_calibrationperiod_from_annotator): removed from this app's state
only; their tables and rows stay as they are. The feedback release rule
(`labeling.selectors.annotations_released`) reads both, below `annotator`."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("annotator", "0007_calibration_reports"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Reservation"),
                migrations.DeleteModel(name="CalibrationPeriod"),
            ],
            database_operations=[],
        ),
    ]
