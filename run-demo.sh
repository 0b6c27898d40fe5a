#!/usr/bin/env bash
# Installs everything and starts chexgold with demo data on embedded defaults:
# SQLite, a SQLite-file Celery broker, a real Celery worker (both queues), beat,
# and the web server at http://127.0.0.1:8000. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python manage.py run_demo "$@"
