from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.services import BackupError, backup_create


class Command(BaseCommand):
    help = "Write one archive with the database, the model store, the uploads and a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--output", type=Path, default=None,
                           help="archive path (default: var/backups/chexgold-<UTC time>.tar.gz)")
        where.add_argument("--directory", type=Path, default=None,
                           help="write chexgold-<UTC time>.tar.gz into this directory (deploy/systemd/chexgold-backup.service)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(output=options["output"], directory=options["directory"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.manifest["row_counts"].values())
        files = len(result.manifest["sha256"]) - 1
        self.stdout.write(f"{result.path}: {rows} rows in {len(result.manifest['row_counts'])} tables, {files} files")
