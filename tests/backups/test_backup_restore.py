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
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.models import AccountChange, RoleChange
from annotator.services.gold import gold_set_version_freeze
from backups.services import BackupError, backup_restore
from labeling.models import GoldLabel, ModelVersion
from labeling.services.exports import gold_label_set_export
from labeling.services.upload_store import upload_store_save
from ml_worker.model_store import STORE_PREFIX, checkpoint_local_path, checkpoint_publish
from privacy.models import ReportAccess
from privacy.services.access_audit import report_access_record
from tests.factories import AnnotationFactory, GoldLabelFactory, ModelVersionFactory, ReportFactory, UserFactory, labels
from tests.object_store import s3_bucket_create, s3_env, s3_storages

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
    checkpoint = checkpoint_local_path(active.checkpoint_path)
    model_files = {p.relative_to(checkpoint).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted(checkpoint.rglob("*")) if p.is_file()}
    return json.loads(json.dumps({"gold": gold, "audit": audit, "active_model": {
        "name": active.name, "files": model_files, "stored_in_this_install": active.checkpoint_path.startswith(STORE_PREFIX)
        or checkpoint.is_relative_to(Path(settings.CHEXGOLD_MODEL_DIR))}}, default=str))


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


def _populate(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """Reads, gold labels, a frozen gold version, model versions (published to the model store,
    one active), an upload and an access-audit history."""
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
        ModelVersionFactory(name=name, checkpoint_path=checkpoint_publish(local_dir=checkpoint), is_active=active)
    upload_store_save(upload=SimpleUploadedFile("reports.csv", b"id,text\nR1,hello\n"), safe_name="reports.csv")
    for reader in readers:
        report_access_record(user=reader, report_ids=[r.pk for r in reports[:2]], channel="annotator:review")
    report_access_record(user=adjudicator, report_ids=[r.pk for r in reports], channel="api:gold_export")


@pytest.fixture
def populated(tmp_path: Path, settings, transactional_db) -> Path:  # type: ignore[no-untyped-def]
    """An install with local storage (directories under its var dir). Returns the model store."""
    settings.CHEXGOLD_MODEL_DIR = tmp_path / "src-var" / "models"
    settings.CHEXGOLD_UPLOAD_DIR = tmp_path / "src-var" / "uploads"
    _populate(tmp_path, settings)
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
    assert "models/gold-1/model.safetensors" in names
    assert any(n.startswith("uploads/") and n.endswith("-reports.csv") for n in names)
    assert manifest["row_counts"][GoldLabel._meta.db_table] == 4
    assert manifest["row_counts"][ReportAccess._meta.db_table] == 3
    assert ["labeling", "0001_initial"] in manifest["migrations"]
    assert set(manifest["sha256"]) == set(names) - {"manifest.json"}

    restored = _manage(["restore", str(archive)], fresh_install)
    assert restored.returncode == 0, restored.stderr
    after = _facts_of(fresh_install)
    assert after == before
    var = Path(fresh_install["CHEXGOLD_VAR_DIR"])
    [upload] = (var / "uploads").glob("*-reports.csv")
    assert upload.read_text() == "id,text\nR1,hello\n"

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
            if member.name.endswith("-reports.csv"):
                data = data.replace(b"hello", b"HELLO")
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="checksum mismatch for uploads/.*-reports.csv"):
        backup_restore(archive=damaged, force=True)
    assert ModelVersion.objects.filter(is_active=True).count() == 1


@pytest.mark.both_backends
@pytest.mark.slow
def test_backup_with_object_storage_holds_the_objects_and_restores_them_to_a_new_bucket(  # type: ignore[no-untyped-def]
    s3_server: str, fresh_install: dict[str, str], tmp_path: Path, settings, transactional_db
) -> None:
    settings.STORAGES = s3_storages(s3_server)
    settings.CHEXGOLD_MODEL_DIR = tmp_path / "src-var" / "models"  # where training writes before publishing
    settings.CHEXGOLD_MODEL_CACHE_DIR = tmp_path / "src-var" / "model-cache"
    _populate(tmp_path, settings)
    before = install_facts()
    assert ModelVersion.objects.get(is_active=True).checkpoint_path == f"{STORE_PREFIX}gold-1"
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", output=archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"models/gold-1/model.safetensors", "models/silver-1/config.json"} <= set(names)
    assert any(n.startswith("uploads/") and n.endswith("-reports.csv") for n in names)

    # The new install has its own var dir, database and (empty) bucket.
    s3_bucket_create(s3_server, "chexgold-restored")
    env = {**fresh_install, **s3_env(s3_server, Path(fresh_install["CHEXGOLD_VAR_DIR"]), bucket="chexgold-restored")}
    restored = _manage(["restore", str(archive)], env)
    assert restored.returncode == 0, restored.stderr
    assert _facts_of(env) == before
    assert not (Path(env["CHEXGOLD_VAR_DIR"]) / "models").exists() or not any((Path(env["CHEXGOLD_VAR_DIR"]) / "models").iterdir())


@pytest.mark.both_backends
def test_archive_from_a_newer_release_is_refused(populated: Path, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", output=archive)
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(newer, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"].append(["labeling", "9999_from_the_future"])
                data = json.dumps(manifest).encode()
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="newer chexgold.*labeling.9999_from_the_future"):
        backup_restore(archive=newer, force=True)
