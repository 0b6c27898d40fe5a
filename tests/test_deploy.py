"""deploy/: the systemd units pass `systemd-analyze verify`, the nginx site passes
`nginx -t` (with a self-signed certificate made here), and the units, the env file
example and README "Production" say the same thing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.test_production_readme import documented_environment, production_section

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
TIMERS = sorted((DEPLOY / "systemd").glob("*.timer"))
BACKUP_DIR = "/var/backups/chexgold"
INSTALL_DIR = "/opt/chexgold"
ENV_FILE = "/etc/chexgold/chexgold.env"


def unit_exec_start(unit: Path) -> str:
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=")


def test_there_is_a_unit_per_process_and_each_reads_the_env_file() -> None:
    assert {u.name for u in UNITS} == {
        "chexgold-web.service", "chexgold-worker-default.service", "chexgold-worker-gpu.service", "chexgold-beat.service",
        "chexgold-backup.service",
    }
    assert [t.name for t in TIMERS] == ["chexgold-backup.timer"]
    for unit in UNITS:
        assert f"EnvironmentFile={ENV_FILE}\n" in unit.read_text(), unit.name
        assert "User=chexgold\n" in unit.read_text(), unit.name
    assert "gunicorn chexgold.wsgi:application" in unit_exec_start(DEPLOY / "systemd/chexgold-web.service")
    assert "worker -Q default " in unit_exec_start(DEPLOY / "systemd/chexgold-worker-default.service")
    assert "worker -Q gpu " in unit_exec_start(DEPLOY / "systemd/chexgold-worker-gpu.service")
    assert " beat " in unit_exec_start(DEPLOY / "systemd/chexgold-beat.service")


def test_env_example_is_readmes_env_file() -> None:
    example = {}
    for line in (DEPLOY / "chexgold.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    assert example == documented_environment()
    assert example["CHEXGOLD_LOG_FORMAT"] == "json" and example["CHEXGOLD_TRUSTED_PROXY_COUNT"] == "1"


def test_readme_points_to_deploy() -> None:
    section = production_section()
    for path in ["deploy/systemd/", "deploy/nginx/chexgold.conf", "deploy/chexgold.env.example", "/health/", "/metrics"]:
        assert path in section, path


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require_service(analyze is not None, "systemd-analyze not installed (apt-get install systemd)")
    env_file = tmp_path / "chexgold.env"
    env_file.write_text((DEPLOY / "chexgold.env.example").read_text())
    copies = []
    for unit in [*UNITS, *TIMERS]:
        # Point at this checkout's virtualenv: verify checks that each command is executable.
        text = unit.read_text().replace(INSTALL_DIR, str(REPO_ROOT)).replace(ENV_FILE, str(env_file))
        copy = tmp_path / unit.name
        copy.write_text(text)
        copies.append(str(copy))
    done = subprocess.run([str(analyze), "verify", *copies], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Unknown keys and bad values are only warnings: any line naming our units is a failure.
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "chexgold" in line]
    assert not complaints, "\n".join(complaints)


def test_nginx_site_is_valid_with_tls_and_the_trusted_proxy_headers(tmp_path: Path) -> None:
    nginx, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
    require_service(Path(nginx).exists() and openssl is not None, "nginx or openssl not installed (apt-get install nginx openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([str(openssl), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=chexgold.example.org"], check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx/chexgold.conf").read_text()
    assert "listen 443 ssl" in site
    assert "proxy_set_header X-Forwarded-Proto https;" in site  # SECURE_PROXY_SSL_HEADER
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in site  # CHEXGOLD_TRUSTED_PROXY_COUNT=1
    assert "server 127.0.0.1:8000;" in site and "--bind 127.0.0.1:8000" in unit_exec_start(DEPLOY / "systemd/chexgold-web.service")
    site = site.replace("/etc/ssl/chexgold/fullchain.pem", str(cert)).replace("/etc/ssl/chexgold/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    temp_paths = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n access_log off;\n {temp_paths}\n include {tmp_path / 'site.conf'};\n}}\n"
    )
    done = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_celery_host_names_are_escaped_for_systemd(unit: Path) -> None:
    # systemd expands %h itself; Celery must receive a literal %h.
    assert not re.search(r"(?<!%)%h", unit_exec_start(unit)), unit_exec_start(unit)


def test_backups_run_daily_into_the_documented_directory() -> None:
    service, timer = DEPLOY / "systemd/chexgold-backup.service", DEPLOY / "systemd/chexgold-backup.timer"
    assert "Type=oneshot\n" in service.read_text()
    command = unit_exec_start(service)
    assert command == f"{INSTALL_DIR}/.venv/bin/python manage.py backup --directory {BACKUP_DIR}"
    assert "OnCalendar=*-*-* 02:30:00\n" in timer.read_text() and "Persistent=true\n" in timer.read_text()
    assert "Unit=chexgold-backup.service\n" in timer.read_text()
    # README "Production" step 6 makes the directory, enables the timer and shows the same command line.
    section = production_section()
    assert f"install -d -o chexgold -g chexgold -m 700 {BACKUP_DIR}" in section
    assert "systemctl enable --now chexgold-backup.timer" in section
    assert command.replace(f"{INSTALL_DIR}/.venv/bin/", "") in section
