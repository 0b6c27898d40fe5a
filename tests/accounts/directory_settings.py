"""What a fresh process makes of the directory sign-in environment (OIDC and LDAP tests share it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

_SETTINGS_CHECK = """
import django
django.setup()
from django.conf import settings
print(" ".join(settings.AUTHENTICATION_BACKENDS), settings.CHEXGOLD_PASSWORD_LOGIN)
"""


def backends_and_password_login(var_dir: Path, **environment: str) -> list[str]:
    """AUTHENTICATION_BACKENDS and CHEXGOLD_PASSWORD_LOGIN as settings compute them from `environment`."""
    env = dict(os.environ, CHEXGOLD_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="chexgold.settings", **environment)
    done = subprocess.run([sys.executable, "-c", _SETTINGS_CHECK], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
