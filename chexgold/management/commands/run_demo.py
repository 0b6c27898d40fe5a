"""Start chexgold locally: web server (gunicorn, static files by whitenoise), a
Celery worker (both queues) and beat, as separate processes; Ctrl-C stops them
all by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chexgold.demo import DEMO_USERS, demo_commands


class Command(BaseCommand):
    help = "Migrate, seed the demo, and run web + worker + beat until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--address", default="127.0.0.1:8000")
        # Sync workers: one request at a time each, so N requests run side by side.
        # 3 suits SQLite (WAL lets readers run beside the one writer; more
        # processes mostly queue on the write lock) and a small team's two cores.
        parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync worker processes (default 3)")
        parser.add_argument("--no-seed", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        web_workers = options["web_workers"]
        if not isinstance(web_workers, int) or web_workers < 1:
            raise CommandError("--web-workers must be at least 1")
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_seed"]:
            call_command("seed_demo")
        run_dir = Path(settings.VAR_DIR) / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        commands = demo_commands(address=str(options["address"]), web_workers=web_workers, run_dir=run_dir)
        for pidfile in ("worker.pid", "beat.pid"):  # stale pidfiles from a killed run block celery
            _remove_stale_pidfile(run_dir / pidfile)
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name, cmd in commands.items():
            children[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        self.stdout.write(self.style.SUCCESS(f"\nchexgold is running at http://{options['address']}/  (Ctrl-C stops it)"))
        self.stdout.write("Demo users (username / password / roles):")
        for username, password, roles in DEMO_USERS:
            self.stdout.write(f"  {username:12} {password:22} {', '.join(r.value for r in roles)}")

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping the others")
                    stopping, exit_code = True, 1
            time.sleep(0.5)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            self.stdout.write(f"stopped {name}")
        if exit_code:
            raise SystemExit(exit_code)


def _remove_stale_pidfile(path: Path) -> None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
    except PermissionError:
        pass
