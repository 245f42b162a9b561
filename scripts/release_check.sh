#!/usr/bin/env bash
# The release check: what the release workflow does to a release, on this machine.
#
#   bash scripts/release_check.sh
#
#   1. build the sdist and the wheel (release profile); check both (scripts/release/check_dist.py:
#      version, contents, twine's metadata check);
#   2. the wheel: smoke test (scripts/release/smoke.py) and the quickstart against the test
#      server, in a fresh venv per CPython from 3.10 on that this machine has (see below);
#   3. the sdist: the same in a fresh venv where pip compiles it (a release build);
#   4. `pip install .` from a clean clone of HEAD (committed files only): the same.
#
# Three release builds, minutes each on two cores: CI runs this after the test command (.ci/run),
# not inside it. The wheel builds in a cargo target directory of its own
# (target/release-check/cargo), so the development build in ./target is left alone; the sdist and
# the clone build in pip's temporary folders. Artifacts go to target/release-check/dist.
# The server: scripts/test_server.py start (VELLUM_TEST_MONGODB_URI, docker, or the embedded
# emulator of this checkout); the quickstart writes to its database `vellum_quickstart`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

step() { printf '\n== %s\n' "$*" >&2; }
started=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - $1) / 60)) $(((SECONDS - $1) % 60)); }

work=${VELLUM_RELEASE_DIR:-$repo/target/release-check}
export CARGO_TARGET_DIR=$work/cargo # CARGO_BUILD_JOBS=1 leaves a core to whoever shares the machine
rm -rf "$work/dist" "$work/clone"
mkdir -p "$work/dist"

step "tools (requirements-dev.txt into .venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
export MATURIN=$repo/.venv/bin/maturin

step "test server"
uri=$(python3 scripts/test_server.py start)
echo "server: $uri" >&2

# The CPythons to test the wheel on: each minor version from the abi3 floor up, from PATH,
# pyenv's versions, or the test suite's cached 3.13 build. Prints "VERSION PATH" lines.
interpreters() {
    local minor candidate found
    for minor in 10 11 12 13 14; do
        found=""
        for candidate in "$(command -v "python3.$minor" || true)" \
            "${VELLUM_CACHE_DIR:-$HOME/.cache/vellum}/cpython-3.$minor/bin/python3.$minor" \
            "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.$minor."*/bin/python3."$minor"; do
            if [ -n "$candidate" ] && "$candidate" -c 'import venv, ssl' >/dev/null 2>&1; then
                found=$candidate
                break
            fi
        done
        if [ -n "$found" ]; then echo "3.$minor $found"; else echo "3.$minor -"; fi
    done
}

step "build: sdist, then the wheel (release profile)"
t=$SECONDS
sdist=$(bash scripts/release/build_sdist.sh "$work/dist")
wheel=$(bash scripts/release/build_wheel.sh "$work/dist")
wheel_time=$(elapsed "$t")
.venv/bin/python scripts/release/check_dist.py "$work/dist"

step "wheel: smoke + quickstart on every CPython >= 3.10 found here"
tested=()
missing=()
while read -r version python; do
    if [ "$python" = "-" ]; then
        missing+=("$version")
        continue
    fi
    python3 scripts/release/smoke.py "$wheel" --python "$python" --uri "$uri"
    tested+=("$version")
done < <(interpreters)

# The sdist and the clone compile from nothing but their own files and crates.io: in pip's build
# folder, with no target directory to reuse (cargo would find the wheel's build fresh).
step "sdist: install into a fresh venv (pip compiles a release build), smoke + quickstart"
t=$SECONDS
env -u CARGO_TARGET_DIR python3 scripts/release/smoke.py "$sdist" --uri "$uri"
sdist_time=$(elapsed "$t")

step "pip install . from a clean clone of HEAD (compiles again), smoke + quickstart"
t=$SECONDS
git clone -q --no-hardlinks "$repo" "$work/clone"
env -u CARGO_TARGET_DIR python3 scripts/release/smoke.py "$work/clone" --uri "$uri"
clone_time=$(elapsed "$t")

step "release check passed in $(elapsed "$started")"
cat >&2 <<EOF
wheel:  $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB), sdist and wheel built in $wheel_time
tested: the wheel on CPython ${tested[*]}${missing[*]:+; not on this machine: ${missing[*]}}
sdist:  $(basename "$sdist"), installed with a compile in $sdist_time
clone:  pip install . from a clean clone in $clone_time
EOF
