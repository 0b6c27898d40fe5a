"""README's "Production" section, followed literally, gives a safe install:
`manage.py check --deploy --fail-level WARNING` is clean with exactly the
environment file it documents (only its two placeholders filled in, and the
writable directories moved under a temporary one), and the section has every
step a first install needs."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE_MARKER = "# /etc/chexgold/chexgold.env"


def production_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("\n## Production\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def documented_environment() -> dict[str, str]:
    """The KEY=VALUE lines of the environment file shown in "Production"."""
    blocks = re.findall(r"```bash\n(.*?)```", production_section(), flags=re.S)
    (block,) = [b for b in blocks if b.strip().splitlines()[0].strip() == ENV_FILE_MARKER]
    env: dict[str, str] = {}
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) and value, line
        env[key] = value
    return env


def test_the_production_section_has_every_step() -> None:
    section = production_section()
    for step in ("CREATE DATABASE chexgold", "manage.py migrate", "manage.py createcachetable",
                 "manage.py collectstatic", "check --deploy --fail-level WARNING", "create_user", "gunicorn",
                 "worker -Q default", "beat", "worker -Q gpu"):
        assert step in section, step
    env = documented_environment()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CHEXGOLD_CACHE_URL", "DJANGO_SECRET_KEY",
                 "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS", "CHEXGOLD_HTTPS", "CHEXGOLD_TRUSTED_PROXY_COUNT"):
        assert name in env, name
    assert env["CHEXGOLD_CACHE_URL"].startswith("redis://")  # shared by every web process
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"].startswith("https://")


def test_check_deploy_is_clean_with_the_documented_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = documented_environment()
    assert env["DJANGO_SECRET_KEY"] == "SECRET-KEY" and "DB-PASSWORD" in env["DATABASE_URL"]
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)  # what the README says to put there
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("DB-PASSWORD", secrets.token_urlsafe(12))
    for name in ("CHEXGOLD_VAR_DIR", "CHEXGOLD_MODEL_DIR", "CHEXGOLD_UPLOAD_DIR"):
        env[name] = str(tmp_path / name.lower())
    # Nothing else from this process's environment (no DATABASE_URL of a test run, no DEBUG).
    env.update({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout + done.stderr
