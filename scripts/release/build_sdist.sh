#!/usr/bin/env bash
# The source distribution of this checkout, as the release workflow builds it.
#
#   bash scripts/release/build_sdist.sh [OUT_DIR]
#
# OUT_DIR defaults to dist/. Prints the sdist's path on stdout. MATURIN as in build_wheel.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=${1:-dist}
maturin=${MATURIN:-.venv/bin/maturin}
mkdir -p "$out"
out=$(cd "$out" && pwd)

"$maturin" sdist --out "$out" >&2
sdist=$(ls -t "$out"/vellum_odm-*.tar.gz 2>/dev/null | head -n 1)
[ -n "$sdist" ] || { echo "build_sdist: no sdist in $out" >&2; exit 1; }
echo "$sdist"
