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
# The release workflow: GitHub's schema, then zizmor's audit (pinned actions, permissions,
# injection); actionlint is not installable here (its PyPI wrapper downloads the binary).
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml
"$venv/bin/zizmor" --offline --quiet --persona=pedantic .github
# The scripts the release workflow and CI run.
"$venv/bin/shellcheck" --severity=warning scripts/release/*.sh scripts/release_check.sh .ci/run
