#!/usr/bin/env bash
# Formatting and lints, as CI checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
(cd benches/stubserver && cargo fmt --check && cargo clippy --quiet --release --all-targets -- -D warnings)
venv=${VENV:-.venv}
"$venv/bin/ruff" check python tests_py examples scripts benches
"$venv/bin/ruff" format --check python tests_py examples scripts benches
