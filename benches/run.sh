#!/usr/bin/env bash
# The benchmark suite: Vellum against pymongo, motor, mongojet, Beanie and ODMantic.
#
#   bash benches/run.sh            # full run; writes docs/benchmarks.json and docs/benchmarks.png
#   bash benches/run.sh --smoke    # every scenario and peer once, on tiny sizes (CI)
#   bash benches/run.sh --scenarios links --out /tmp/links   # some scenarios (run.py --help)
#   bash benches/run.sh --scenarios odm --odm-data DIR --out /tmp/odm  # MongoDB's ODM benchmark
#                                  # (benches/odm.py; --quick bounds its iterations)
#
# Builds the wire-protocol stub server and a release build of Vellum into .venv-bench with the
# peers of benches/requirements.txt. VELLUM_BENCH_MONGODB_URI=mongodb://... measures against
# that MongoDB instead of the stub (its vellum_bench database is dropped and seeded).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--smoke" ]; then profile=dev; fi

cargo build --quiet --release --manifest-path benches/stubserver/Cargo.toml
VELLUM_PROFILE=$profile bash scripts/setup.sh python3 .venv-bench
.venv-bench/bin/python -m pip install -q --disable-pip-version-check -r benches/requirements.txt
exec .venv-bench/bin/python benches/run.py "$@"
