"""Backup and restore of a whole install: the database, the model store and the uploads in one archive.

The archive is a gzip'd tar:

    database.sqlite3 | database.pgdump   the database (SQLite online backup API / pg_dump -Fc)
    models/...                           CHEXGOLD_MODEL_DIR (checkpoints), or the objects of
                                         STORAGES["models"] with CHEXGOLD_STORAGE=s3
    uploads/...                          CHEXGOLD_UPLOAD_DIR, or STORAGES["uploads"]
    manifest.json                        app version, migration state, row counts per table,
                                         sha256 of every other member (written last)

The database copy and the manifest's row counts and migration state come from one
snapshot: on SQLite the counts are read from the copy; on PostgreSQL pg_dump runs
inside the REPEATABLE READ snapshot the counts were read from (`--snapshot`).
A live SQLite file is never copied byte-wise (WAL pages would be lost or torn).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

from api.request_memo import SHARED_ROW_KEYS, shared_row_forget
from labeling.models import ModelVersion, Report
from ml_worker.model_store import STORE_PREFIX, storage_walk
from privacy.models import ReportAccess

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PGDUMP_MEMBER = "database.pgdump"


class BackupError(Exception):
    """The backup or restore cannot go ahead; the message says why."""


class InstallNotEmpty(BackupError):
    """The target install holds data and --force was not given."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    row_counts: dict[str, int] = field(default_factory=dict)


def _file_dirs() -> dict[str, Path]:
    """Archive prefix -> local directory, for the file stores that travel with the database."""
    return {"models": Path(settings.CHEXGOLD_MODEL_DIR), "uploads": Path(settings.CHEXGOLD_UPLOAD_DIR)}


def _app_version() -> str:
    with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _snapshot_facts(cursor: Any, tables: list[str], quote: Any) -> tuple[dict[str, int], list[list[str]]]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
        counts[table] = int(cursor.fetchone()[0])
    migrations: list[list[str]] = []
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        migrations = [[str(app), str(name)] for app, name in cursor.fetchall()]
    return counts, migrations


def _pg_env_args() -> tuple[dict[str, str], list[str]]:
    """libpq environment and connection arguments for pg_dump / pg_restore from the Django settings."""
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    args += ["--dbname", str(db["NAME"])]
    return env, args


def _pg_client_check(tool: str) -> None:
    """pg_dump/pg_restore must not be older than the server (an older pg_dump refuses a newer
    server; an older pg_restore cannot read a newer dump format)."""
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackupError(f"{tool} is needed for a PostgreSQL backup: {exc}") from exc
    client_major = int(out.split()[-1].split(".")[0])
    connection.ensure_connection()
    server_major = connection.pg_version // 10000  # type: ignore[attr-defined]  # PostgreSQL backend only
    if client_major < server_major:
        raise BackupError(f"{tool} {client_major} is older than the PostgreSQL {server_major} server; install "
                          f"postgresql-client-{server_major}")


def _database_dump(workdir: Path) -> tuple[Path, str, dict[str, int], list[list[str]]]:
    """Copy the database into `workdir`; return the copy, its archive name, row counts and applied migrations."""
    vendor = connection.vendor
    if vendor == "sqlite":
        target = workdir / SQLITE_MEMBER
        connection.ensure_connection()
        source = connection.connection  # the live connection: the backup API copies a consistent snapshot
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
        copy = sqlite3.connect(target)
        try:
            # A self-contained file (no -wal beside it when it is opened elsewhere).
            copy.execute("PRAGMA journal_mode=DELETE")
            tables = [r[0] for r in copy.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            counts, migrations = _snapshot_facts(copy.cursor(), tables, lambda t: '"' + t.replace('"', '""') + '"')
        finally:
            copy.close()
        return target, SQLITE_MEMBER, counts, migrations
    if vendor == "postgresql":
        _pg_client_check("pg_dump")
        target = workdir / PGDUMP_MEMBER
        env, args = _pg_env_args()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                tables = connection.introspection.table_names(cursor)
                counts, migrations = _snapshot_facts(cursor, tables, connection.ops.quote_name)
                # pg_dump joins this transaction's snapshot: the dump holds exactly what was counted.
                proc = subprocess.run(
                    ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                     "--file", str(target), *args],
                    env=env, capture_output=True, text=True,
                )
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")
        return target, PGDUMP_MEMBER, counts, migrations
    raise BackupError(f"backups support SQLite and PostgreSQL, not {vendor}")


def _object_stores() -> dict[str, Storage]:
    """Archive prefix -> object storage, for the stores that are not local directories."""
    return {prefix: storages[prefix] for prefix in _file_dirs()
            if not isinstance(storages[prefix], FileSystemStorage)}


def _store_files(workdir: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, local path) of every file in the model store and the uploads; objects in
    an object store are downloaded into `workdir` first."""
    objects = _object_stores()
    for prefix, root in _file_dirs().items():
        if prefix in objects:
            storage = objects[prefix]
            for key in storage_walk(storage):
                local = workdir / "objects" / prefix / key
                local.parent.mkdir(parents=True, exist_ok=True)
                with storage.open(key, "rb") as src, open(local, "wb") as out:
                    shutil.copyfileobj(src, out)
                yield f"{prefix}/{key}", local
            continue
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def backup_create(*, output: Path | None = None, directory: Path | None = None) -> BackupResult:
    """Write one archive of this install (database, model store, uploads, manifest) and return its path:
    `output`, else chexgold-<UTC time>.tar.gz in `directory` (default: var/backups/)."""
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = Path(directory or Path(settings.VAR_DIR) / "backups") / f"chexgold-{stamp}.tar.gz"
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="chexgold-backup-") as tmp:
        db_copy, db_member, counts, migrations = _database_dump(Path(tmp))
        checksums: dict[str, str] = {}
        with tarfile.open(partial, "w:gz") as tar:
            checksums[db_member] = _sha256_file(db_copy)
            tar.add(db_copy, arcname=db_member, recursive=False)
            for name, path in _store_files(Path(tmp)):
                checksums[name] = _sha256_file(path)
                tar.add(path, arcname=name, recursive=False)
            manifest = {
                "format": FORMAT_VERSION,
                "app_version": _app_version(),
                "created_at": datetime.now(UTC).isoformat(),
                "database": {"vendor": connection.vendor, "member": db_member},
                "migrations": migrations,
                "row_counts": counts,
                "file_dirs": {prefix: str(root) for prefix, root in _file_dirs().items()},
                "object_stores": sorted(_object_stores()),
                "sha256": checksums,
            }
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
    partial.replace(output)  # a crash leaves a .partial, never a truncated archive under the real name
    return BackupResult(path=output, manifest=manifest)


# --- restore --------------------------------------------------------------------


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"unsafe path in archive: {name!r}")
    return path


def _archive_extract(archive: Path, workdir: Path) -> dict[str, Any]:
    """Unpack into `workdir` (regular files only), check every sha256 against the manifest, return the manifest."""
    try:
        tar = tarfile.open(archive, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not a backup archive: {archive}: {exc}") from exc
    with tar:
        for member in tar:
            if not member.isfile():
                raise BackupError(f"unexpected non-file member in archive: {member.name!r}")
            target = workdir.joinpath(*_safe_name(member.name).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
    manifest_path = workdir / MANIFEST
    if not manifest_path.is_file():
        raise BackupError("archive has no manifest.json")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unknown archive format {manifest.get('format')!r}")
    present = {p.relative_to(workdir).as_posix() for p in workdir.rglob("*") if p.is_file()} - {MANIFEST}
    expected = set(manifest["sha256"])
    if present != expected:
        raise BackupError(f"archive members differ from the manifest: missing {sorted(expected - present)}, "
                          f"extra {sorted(present - expected)}")
    for name, digest in manifest["sha256"].items():
        if _sha256_file(workdir / name) != digest:
            raise BackupError(f"checksum mismatch for {name}: the archive is damaged")
    return manifest


def _install_in_use() -> list[str]:
    """What makes this install non-empty: tables with rows, file stores with files."""
    found = []
    # Tables whose rows say an install is in use (a fresh `migrate` leaves them empty).
    in_use_tables = [m._meta.db_table for m in (get_user_model(), Report, ModelVersion, ReportAccess)]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table in in_use_tables:
            if table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
                if cursor.fetchone()[0]:
                    found.append(f"table {table}")
    objects = _object_stores()
    for prefix, root in _file_dirs().items():
        if prefix in objects:
            if next(storage_walk(objects[prefix]), None) is not None:
                found.append(f"{prefix} object store")
        elif root.is_dir() and any(root.iterdir()):
            found.append(f"{prefix} directory {root}")
    return found


def _migrations_known(archived: list[list[str]]) -> None:
    """Refuse an archive made by a newer version: every migration it applied must exist in this code."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    unknown = [f"{app}.{name}" for app, name in archived if (app, name) not in loader.disk_migrations]
    if unknown:
        raise BackupError("the archive comes from a newer chexgold (unknown migrations: "
                          + ", ".join(unknown[:5]) + ("..." if len(unknown) > 5 else "") + "); upgrade first")


def _database_load(manifest: dict[str, Any], workdir: Path) -> None:
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(f"the archive holds a {vendor} database; this install uses {connection.vendor}")
    source = workdir / manifest["database"]["member"]
    if vendor == "sqlite":
        connection.close()
        src = sqlite3.connect(source)
        dest = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        try:
            src.backup(dest)  # replaces every page of the target, through SQLite (WAL-safe)
            dest.execute("PRAGMA journal_mode=WAL")
        finally:
            dest.close()
            src.close()
        return
    _pg_client_check("pg_restore")
    env, args = _pg_env_args()
    connection.close()
    proc = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
         "--exit-on-error", *args, str(source)],
        env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed: {proc.stderr.strip()}")


def _files_load(manifest: dict[str, Any], workdir: Path) -> None:
    objects = _object_stores()
    for prefix, root in _file_dirs().items():
        extracted = workdir / prefix
        if prefix in objects:
            storage = objects[prefix]
            for key in list(storage_walk(storage)):
                storage.delete(key)
            if extracted.is_dir():
                for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
                    with open(path, "rb") as fh:
                        storage.save(path.relative_to(extracted).as_posix(), File(fh))
            continue
        if root.is_dir():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        if extracted.is_dir():
            shutil.copytree(extracted, root, dirs_exist_ok=True)


def _checkpoint_paths_move(manifest: dict[str, Any]) -> None:
    """Checkpoint paths recorded under the old install's model directory point into this one's:
    its model directory, or, with object storage, the stored copy (`store:<directory>`)."""
    old_root = manifest.get("file_dirs", {}).get("models")
    new_root = str(Path(settings.CHEXGOLD_MODEL_DIR))
    to_objects = "models" in _object_stores()
    if not old_root or (old_root == new_root and not to_objects):
        return
    for version in ModelVersion.objects.filter(checkpoint_path__startswith=old_root).only("id", "checkpoint_path"):
        try:
            rel = Path(version.checkpoint_path).relative_to(old_root)
        except ValueError:  # a sibling directory whose name merely starts the same
            continue
        moved = f"{STORE_PREFIX}{rel.as_posix()}" if to_objects else str(Path(new_root) / rel)
        # A bulk update, not save(): relocating files is not a model change and writes no history row.
        ModelVersion.objects.filter(pk=version.pk).update(checkpoint_path=moved)
        shared_row_forget("active_model")


def _row_counts_now(tables: list[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        counts, _ = _snapshot_facts(cursor, [t for t in tables if t in present], connection.ops.quote_name)
    return counts


def backup_restore(*, archive: Path, force: bool = False) -> RestoreResult:
    """Put an archive back into this install, then migrate it to this code's schema.

    Refuses (InstallNotEmpty) an install that already has users, reports, model
    versions, audit rows or stored files, unless `force`, which replaces them all.
    Raises BackupError for a damaged archive, a different database vendor, or an
    archive from a newer version. Stop web and worker processes first."""
    with tempfile.TemporaryDirectory(prefix="chexgold-restore-") as tmp:
        workdir = Path(tmp)
        manifest = _archive_extract(Path(archive), workdir)
        _migrations_known(manifest["migrations"])
        in_use = _install_in_use()
        if in_use and not force:
            raise InstallNotEmpty("this install is not empty (" + "; ".join(in_use) + "); restore with --force to "
                                  "replace it")
        _database_load(manifest, workdir)
        counts = _row_counts_now(list(manifest["row_counts"]))
        if counts != manifest["row_counts"]:
            diff = {t: (manifest["row_counts"][t], counts.get(t)) for t in manifest["row_counts"]
                    if counts.get(t) != manifest["row_counts"][t]}
            raise BackupError(f"restored row counts differ from the manifest (expected, found): {diff}")
        _files_load(manifest, workdir)
    _checkpoint_paths_move(manifest)
    call_command("migrate", interactive=False, verbosity=0)
    # The rows came in without save(): drop what the processes cache of them.
    shared_row_forget(*SHARED_ROW_KEYS)
    return RestoreResult(manifest=manifest, row_counts=counts)
