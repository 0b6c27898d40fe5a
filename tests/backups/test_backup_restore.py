"""Backup -> restore into a fresh install (own var dir, own database) gives back the same gold
export, audit log and active model, byte for byte; on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.models import AccountChange, RoleChange
from annotator.services.gold import gold_set_version_freeze
from backups.services import BackupError, backup_restore
from labeling.models import GoldLabel, ModelVersion
from labeling.services.exports import gold_label_set_export
from privacy.models import ReportAccess
from privacy.services.access_audit import report_access_record
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory, UserFactory, labels

REPO = Path(__file__).resolve().parents[2]


def install_facts() -> dict[str, object]:
    """What must survive a restore exactly: the gold exports, the audit log, the active model's files.
    Runs here and, through `_facts_of`, in the restored install."""
    gold = {
        "current.csv": "".join(gold_label_set_export(fmt="csv")),
        "current.jsonl": "".join(gold_label_set_export(fmt="jsonl")),
    }
    from labeling.models import GoldSetVersion

    for version in GoldSetVersion.objects.order_by("name"):
        gold[f"{version.name}.jsonl"] = "".join(gold_label_set_export(fmt="jsonl", gold_version=version))
    audit = {
        "report_access": list(ReportAccess.objects.order_by("pk").values()),
        "role_changes": list(RoleChange.objects.order_by("pk").values()),
        "account_changes": list(AccountChange.objects.order_by("pk").values()),
        "model_history": list(ModelVersion.history.order_by("history_id").values(
            "history_id", "id", "name", "is_active", "history_type", "history_date")),
        "gold_history": list(GoldLabel.history.order_by("history_id").values("history_id", "id", "labels", "history_type")),
    }
    active = ModelVersion.objects.get(is_active=True)
    checkpoint = Path(active.checkpoint_path)
    model_files = {p.relative_to(checkpoint).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted(checkpoint.rglob("*")) if p.is_file()}
    return json.loads(json.dumps({"gold": gold, "audit": audit, "active_model": {
        "name": active.name, "files": model_files,
        "under_model_dir": checkpoint.is_relative_to(Path(settings.CHEXGOLD_MODEL_DIR))}}, default=str))


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)


def _facts_of(env: dict[str, str]) -> dict[str, object]:
    code = ("import json, django; django.setup(); "
            "from tests.backups.test_backup_restore import install_facts; print(json.dumps(install_facts()))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": "chexgold.settings"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def fresh_install(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of an empty install: its own var dir and, on PostgreSQL, its own new database."""
    from django.db import connection

    env = {k: v for k, v in os.environ.items()
           if k not in {"CHEXGOLD_MODEL_DIR", "CHEXGOLD_UPLOAD_DIR", "CHEXGOLD_TEST_DATABASE", "DJANGO_SETTINGS_MODULE"}}
    env["CHEXGOLD_VAR_DIR"] = str(tmp_path / "restored-var")
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        yield env
        return
    import psycopg

    db = connection.settings_dict
    name = f"chexgold_restore_{uuid.uuid4().hex[:8]}"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
                 dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = f"{db['USER']}@" if db["USER"] else ""
    env["DATABASE_URL"] = f"postgres://{auth}{admin['host']}:{admin['port']}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def populated(tmp_path: Path, settings, transactional_db) -> Path:  # type: ignore[no-untyped-def]
    """An install with reads, gold labels, a frozen gold version, model versions (files in the model
    store, one active), an upload and an access-audit history. Returns the model store."""
    settings.CHEXGOLD_MODEL_DIR = tmp_path / "src-var" / "models"
    settings.CHEXGOLD_UPLOAD_DIR = tmp_path / "src-var" / "uploads"
    adjudicator = UserFactory(username="adj")
    readers = [UserFactory(username=f"reader{i}") for i in (1, 2)]
    reports = [ReportFactory() for _ in range(4)]
    for i, report in enumerate(reports):
        reads = [AnnotationFactory(report=report, reader=r, labels=labels(edema="positive" if i % 2 else "negative"))
                 for r in readers]
        gold = GoldLabelFactory(report=report, labels=labels(edema="positive" if i % 2 else "negative", cardiomegaly="uncertain"))
        gold.annotations.set(reads)
    gold_set_version_freeze(name="v1", user=adjudicator)
    for name, active in (("silver-1", False), ("gold-1", True)):
        checkpoint = settings.CHEXGOLD_MODEL_DIR / name
        checkpoint.mkdir(parents=True)
        (checkpoint / "model.safetensors").write_bytes(os.urandom(4096) + name.encode())
        (checkpoint / "config.json").write_text(json.dumps({"name": name}))
        ModelVersionFactory(name=name, checkpoint_path=str(checkpoint), is_active=active)
    settings.CHEXGOLD_UPLOAD_DIR.mkdir(parents=True)
    (settings.CHEXGOLD_UPLOAD_DIR / "reports.csv").write_text("id,text\nR1,hello\n")
    for reader in readers:
        report_access_record(user=reader, report_ids=[r.pk for r in reports[:2]], channel="annotator:review")
    report_access_record(user=adjudicator, report_ids=[r.pk for r in reports], channel="api:gold_export")
    return settings.CHEXGOLD_MODEL_DIR


@pytest.mark.both_backends
@pytest.mark.slow
def test_backup_restores_into_fresh_install_byte_for_byte(populated: Path, fresh_install: dict[str, str],
                                                          tmp_path: Path) -> None:
    before = install_facts()
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", output=archive)

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert names[-1] == "manifest.json"
    assert "models/gold-1/model.safetensors" in names and "uploads/reports.csv" in names
    assert manifest["row_counts"][GoldLabel._meta.db_table] == 4
    assert manifest["row_counts"][ReportAccess._meta.db_table] == 3
    assert ["labeling", "0001_initial"] in manifest["migrations"]
    assert set(manifest["sha256"]) == set(names) - {"manifest.json"}

    restored = _manage(["restore", str(archive)], fresh_install)
    assert restored.returncode == 0, restored.stderr
    after = _facts_of(fresh_install)
    assert after == before
    var = Path(fresh_install["CHEXGOLD_VAR_DIR"])
    assert (var / "uploads" / "reports.csv").read_text() == "id,text\nR1,hello\n"

    # The restored install is no longer empty: a second restore needs --force.
    again = _manage(["restore", str(archive)], fresh_install)
    assert again.returncode != 0 and "not empty" in again.stderr
    forced = _manage(["restore", "--force", str(archive)], fresh_install)
    assert forced.returncode == 0, forced.stderr
    assert _facts_of(fresh_install) == before


@pytest.mark.both_backends
def test_damaged_archive_is_refused_before_anything_changes(populated: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", output=archive)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "uploads/reports.csv":
                data = data.replace(b"hello", b"HELLO")
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="checksum mismatch for uploads/reports.csv"):
        backup_restore(archive=damaged, force=True)
    assert ModelVersion.objects.filter(is_active=True).count() == 1
