"""Upgrading an existing install (README "Upgrading"): back up, `migrate`, verify.

`tests/fixtures/pre_layout.sqlite3` was written by the code before the layout
move (commit f0c5212: RoleChange in `api`, ReportAccess and SessionEpoch in
`labeling`) with `tests/fixtures/make_pre_layout_db.py`. This test follows the README steps
literally on a copy of it and checks that every table keeps its rows byte for
byte (`pre_layout_expected.json`); the moved models keep their tables (the move
is state-only) and only their content types change app label.

Later releases may add tables, columns and models: digests after the upgrade
cover the columns the fixture had, and for content types and permissions only
the rows it had (see `table_digests`). A later data migration that rewrites or
adds rows of an existing table fails this test on purpose: say so here.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.fixtures.make_pre_layout_db import applied_migrations, table_digests

FIXTURES = REPO_ROOT / "tests" / "fixtures"
EXPECTED = json.loads((FIXTURES / "pre_layout_expected.json").read_text())

# The moved models and the tables they keep (state-only move: same names as before).
MOVED = {"rolechange": "api_rolechange", "reportaccess": "labeling_reportaccess", "sessionepoch": "labeling_sessionepoch",
         "reservation": "annotator_reservation"}  # annotator -> labeling (labeling 0013)
# Tables the moved models would have had in their new apps: creating any of them
# would mean the move touched the database (and left the old rows behind).
NOT_CREATED = ("accounts_rolechange", "privacy_reportaccess", "privacy_sessionepoch", "labeling_reservation")
# The one table whose rows the upgrade may rewrite: content types follow the moved
# models (same id and model, new app label); checked row by row below.
CONTENT_TYPES = "django_content_type"

# README "Upgrading", step 1 for SQLite (sqlite3's online backup API).
BACKUP = "import sqlite3; src = sqlite3.connect({src!r}); dst = sqlite3.connect({dst!r}); src.backup(dst); dst.close(); src.close()"

# Run inside `manage.py shell`: how the code under test sees the moved models.
ORM_PROBE = """
import json
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
out = {}
for m in apps.get_models():
    name = m._meta.model_name
    if name in ("rolechange", "reportaccess", "sessionepoch", "reservation"):
        ct = ContentType.objects.get(app_label=m._meta.app_label, model=name)
        out[name] = {"app": m._meta.app_label, "table": m._meta.db_table, "rows": m.objects.count(), "content_type": ct.id}
obj = LogEntry.objects.get().get_edited_object()
out["log_entry"] = {"app": obj._meta.app_label, "model": obj._meta.model_name, "pk": obj.pk}
print("PROBE " + json.dumps(out))
"""


# Columns later migrations removed on purpose, and why (their values moved elsewhere).
RETIRED_COLUMNS = {
    "annotator_reviewsettings": {"independent_first_read"},  # -> labeling_runtimesettings.prefill (annotator 0006)
}


def _env(db: Path, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "CHEXGOLD_VAR_DIR": str(var_dir),
            "HF_HUB_OFFLINE": "1",
            "DJANGO_SETTINGS_MODULE": "chexgold.settings",
        }
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _tables(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def _content_types(db: Path) -> dict[int, tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return {i: (app, model) for i, app, model in con.execute(f"SELECT id, app_label, model FROM {CONTENT_TYPES}")}
    finally:
        con.close()


def test_fixture_matches_its_expectations() -> None:
    fixture = FIXTURES / "pre_layout.sqlite3"
    assert fixture.stat().st_size < 2 * 1024 * 1024
    con = sqlite3.connect(f"file:{fixture}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    finally:
        con.close()
    assert table_digests(fixture) == EXPECTED["tables"]
    assert applied_migrations(fixture) == EXPECTED["migrations"]
    for table in MOVED.values():
        assert EXPECTED["tables"][table]["rows"] > 0, f"the fixture has no {table} rows to carry over"


@pytest.mark.slow  # four manage.py processes: about 6 s
def test_upgrade_keeps_every_row(tmp_path: Path) -> None:
    db = tmp_path / "chexgold.sqlite3"
    shutil.copyfile(FIXTURES / "pre_layout.sqlite3", db)
    env = _env(db, tmp_path / "var")
    python = sys.executable
    before_types = _content_types(db)

    # 1. Back up (the processes are stopped; the online backup API copies a consistent snapshot).
    backup = tmp_path / "chexgold-before-upgrade.sqlite3"
    _run([python, "-c", BACKUP.format(src=str(db), dst=str(backup))], env)
    con = sqlite3.connect(backup)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert table_digests(backup) == EXPECTED["tables"]
    assert applied_migrations(backup) == EXPECTED["migrations"]

    # 2. Migrate.
    _run([python, "manage.py", "migrate", "--noinput"], env)

    # 3. Verify: nothing unapplied, the system check passes.
    plan = _run([python, "manage.py", "showmigrations", "--plan"], env).stdout
    assert "[ ]" not in plan, plan
    applied = applied_migrations(db)
    assert plan.count("[X]") == len(applied)
    assert [m for m in applied if m in EXPECTED["migrations"]] == EXPECTED["migrations"]  # old rows kept, in order
    _run([python, "manage.py", "check"], env)

    # Every table is still there with the same rows, byte for byte (over the
    # columns that still exist: a column a later migration retired on purpose is
    # left out of both sides, and where its value went is checked below).
    expected_tables = {t: dict(v) for t, v in EXPECTED["tables"].items()}
    for table, columns in RETIRED_COLUMNS.items():
        kept = [c for c in expected_tables[table]["columns"] if c not in columns]  # type: ignore[attr-defined]
        expected_tables[table] = table_digests(backup, like={table: {**expected_tables[table], "columns": kept}})[table]
    after = table_digests(db, like=expected_tables)
    missing = sorted(set(EXPECTED["tables"]) - set(after))
    assert not missing, f"tables gone after the upgrade: {missing}"
    created = [t for t in NOT_CREATED if t in _tables(db)]
    assert not created, f"the model move created new tables instead of keeping the old ones: {created}"
    changed = {
        table: (want, after[table])
        for table, want in expected_tables.items()
        if table != CONTENT_TYPES and after[table] != want
    }
    assert not changed, f"rows changed by the upgrade (expected, got): {changed}"
    assert after[CONTENT_TYPES]["rows"] == EXPECTED["tables"][CONTENT_TYPES]["rows"]  # none of the old ids gone

    # The code under test reads the moved rows from the old tables, through
    # whichever app owns each model now, and their content types followed.
    probe = _run([python, "manage.py", "shell", "-c", ORM_PROBE], env).stdout
    seen = json.loads(next(line for line in probe.splitlines() if line.startswith("PROBE "))[len("PROBE "):])
    after_types = _content_types(db)
    for model, table in MOVED.items():
        assert seen[model]["table"] == table
        assert seen[model]["rows"] == EXPECTED["tables"][table]["rows"]
        ct = seen[model]["content_type"]
        assert ct in before_types and before_types[ct][1] == model, f"{model}: a new content type {ct} instead of the old one"
    for ct, (app, model) in before_types.items():
        want = (seen[model]["app"], model) if model in MOVED else (app, model)
        assert after_types[ct] == want, f"content type {ct}: {(app, model)} became {after_types[ct]}, expected {want}"
    assert seen["log_entry"]["model"] == "rolechange"  # an admin log entry still finds its object
    # The retired independent-first-read switch became the pre-fill mode (off -> the default).
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT prefill FROM labeling_runtimesettings").fetchone()[0] == "uncontested"
    finally:
        con.close()
