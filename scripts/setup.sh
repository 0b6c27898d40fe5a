#!/usr/bin/env bash
# Creates .venv and installs requirements.txt in ONE pip command (torch pinned
# with the rest, so pip never resolves a CUDA build on its own). Re-running is
# cheap: nothing is reinstalled unless requirements.txt changed.
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu gets the CPU build of
# torch on machines without a local wheel (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
  done
fi
"$PYTHON" - <<'PY' || { echo "chexgold needs Python 3.11 or newer" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing requirements (torch==2.13.0 and the rest, one pip command)"
  # (The filter hides one machine's pip-config noise about missing local index folders.)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "pip install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
