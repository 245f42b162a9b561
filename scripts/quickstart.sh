#!/usr/bin/env bash
# The main job: set up, start the test server, run the quickstart example against it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh python3 .venv
uri=$(.venv/bin/python scripts/test_server.py start)
.venv/bin/python examples/quickstart.py "$uri"
