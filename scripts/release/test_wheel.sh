#!/usr/bin/env bash
# The test suite (tests_py) against a built wheel instead of a development build: a fresh venv
# with the test tools of requirements-dev.txt and the wheel of DIST that pip picks for this
# platform, then pytest from the checkout (which has no compiled core of its own in a clean
# clone, so `import vellum` is the wheel's).
#
#   VELLUM_TEST_MONGODB_URI=mongodb://... bash scripts/release/test_wheel.sh DIST [PYTHON] [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/../.."

dist=$(cd "${1:?usage: test_wheel.sh DIST [PYTHON] [pytest args...]}" && pwd)
python=${2:-python3}
shift $(($# < 2 ? $# : 2))
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q -r requirements-dev.txt
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps --no-index --only-binary :all: \
    --find-links "$dist" vellum-odm
"$venv/bin/python" - <<'PY'
import pathlib, vellum
print(f"test_wheel: vellum {vellum.__version__} from {pathlib.Path(vellum.__file__).parent}")
PY
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
