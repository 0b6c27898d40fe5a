"""PostgreSQL only: a trigger refuses UPDATE and DELETE on the report-access audit,
so even SQL run outside the app cannot rewrite it (TRUNCATE, a table owner's
deliberate act, is not a row trigger event and stays possible for test flushes)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION labeling_reportaccess_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'labeling_reportaccess is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER labeling_reportaccess_append_only
    BEFORE UPDATE OR DELETE ON labeling_reportaccess
    FOR EACH ROW EXECUTE FUNCTION labeling_reportaccess_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS labeling_reportaccess_append_only ON labeling_reportaccess;
DROP FUNCTION IF EXISTS labeling_reportaccess_append_only();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("labeling", "0004_privacy")]
    operations = [migrations.RunPython(forwards, backwards)]
