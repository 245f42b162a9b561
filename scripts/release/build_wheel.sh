#!/usr/bin/env bash
# A release wheel of this checkout, built as the release workflow builds it: one abi3 wheel for
# CPython >= 3.10 on this platform, with the release profile of Cargo.toml (fat LTO, stripped).
#
#   bash scripts/release/build_wheel.sh [OUT_DIR] [extra `maturin build` arguments...]
#
# OUT_DIR defaults to dist/. Prints the wheel's path on stdout; maturin's output goes to stderr.
# MATURIN names the maturin to run (default: .venv's, pinned in requirements-dev.txt). Honours
# CARGO_TARGET_DIR and CARGO_BUILD_JOBS: the release check builds in a target directory of its
# own, so that the development build in ./target is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=${1:-dist}
shift || true
maturin=${MATURIN:-.venv/bin/maturin}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --locked: the wheel is built from Cargo.lock as committed, never from a fresh resolution.
"$maturin" build --release --locked --out "$out" "$@" >&2
wheel=$(ls -t "$out"/vellum_odm-*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || { echo "build_wheel: no wheel in $out" >&2; exit 1; }
echo "$wheel"
