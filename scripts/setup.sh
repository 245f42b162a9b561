#!/usr/bin/env bash
# Set-up on a fresh machine: a virtualenv per Python version with the pinned tools, and the
# extension built from this checkout and installed into it.
#
#   bash scripts/setup.sh                 # .venv (host python3), debug build
#   VELLUM_PROFILE=release bash scripts/setup.sh
#   bash scripts/setup.sh /path/to/python3.13 .venv313
set -euo pipefail
cd "$(dirname "$0")/.."

python=${1:-python3}
venv=${2:-.venv}
profile=${VELLUM_PROFILE:-dev}

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv with $("$python" --version 2>&1)" >&2
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# One wheel for every Python >= 3.10 (abi3), built once per profile and source state.
"$venv/bin/maturin" build -q --profile "$profile" --out target/wheels >&2
wheel=$(ls -t target/wheels/vellum_odm-*-abi3-*.whl | head -n 1)
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
echo "setup: $venv ready ($wheel)" >&2
