#!/usr/bin/env bash
# Every test, Rust and Python, after building the extension; on Python 3.11 (the host's) and
# 3.13 (built from Debian's source package on first use, see scripts/build-python313.sh).
# The server: VELLUM_TEST_MONGODB_URI, else docker compose, else the embedded emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "set-up (Python 3.11)"
bash scripts/setup.sh python3 .venv

step "test server"
uri=$(.venv/bin/python scripts/test_server.py start)
echo "server: $uri ($(.venv/bin/python scripts/test_server.py kind))" >&2
export VELLUM_TEST_MONGODB_URI="$uri"
export VELLUM_TEST_SERVER_KIND="$(.venv/bin/python scripts/test_server.py kind)"

step "set-up (Python 3.13)"
py313=$(.venv/bin/python scripts/test_server.py python313)
bash scripts/setup.sh "$py313" .venv313

step "Rust tests"
cargo test --quiet 2>&1 | tail -n 20

step "stubs match the native module"
.venv/bin/python -m mypy.stubtest vellum._core --allowlist .ci/stubtest-allowlist.txt

step "pyright (strict)"
.venv/bin/pyright

step "documentation site (mkdocs build --strict: no broken link or reference)"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"

step "pytest on Python 3.13 (the server_volume tests run once, below)"
.venv313/bin/python -m pytest -q -p no:cacheprovider -m "not server_volume" "$@"

step "pytest on Python 3.11"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

step "benchmark smoke run (every scenario and peer once, tiny sizes; no timing asserted)"
bash benches/run.sh --smoke > /dev/null
