#!/usr/bin/env bash
# Installs everything and runs the whole test suite in two passes:
#  1. embedded defaults: SQLite file database, SQLite-file broker, real workers;
#  2. PostgreSQL + Redis (127.0.0.1 by default) with real workers: the tests
#     marked pg / worker / both_backends.
# Missing PostgreSQL, Redis or Chromium make their tests skip with a reason;
# CHEXGOLD_REQUIRE_SERVICES=1 turns those skips into failures.
set -uo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
export CHEXGOLD_VAR_DIR="${CHEXGOLD_TEST_VAR_DIR:-$PWD/var/test}"
mkdir -p "$CHEXGOLD_VAR_DIR"
status=0
echo "== lint: ruff, import-linter (layers, docs/ARCHITECTURE.md), mypy (whole project, django-stubs)"
.venv/bin/ruff check . || status=1
.venv/bin/lint-imports --no-cache || status=1
.venv/bin/mypy || status=1
echo "== pass 1: embedded defaults (SQLite + SQLite-file broker)"
pass1=0
env -u DATABASE_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND \
  .venv/bin/python -m pytest "$@" || pass1=$?
echo "== pass 2: PostgreSQL + Redis"
DATABASE_URL="${CHEXGOLD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}" \
CELERY_BROKER_URL="${CHEXGOLD_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
CELERY_RESULT_BACKEND="${CHEXGOLD_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
CHEXGOLD_TEST_REDIS_URL="${CHEXGOLD_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
  .venv/bin/python -m pytest "$@"
pass2=$?
# pytest exits 5 when a pass selects no test (e.g. a -k filter for pass 1 only).
if [ "$pass1" -ne 0 ] && [ "$pass1" -ne 5 ]; then status=$pass1; fi
if [ "$pass2" -ne 0 ] && [ "$pass2" -ne 5 ]; then status=$pass2; fi
exit $status
