#!/usr/bin/env bash
# Build CPython 3.13 from Debian trixie's python3.13 source package and cache it
# outside the repository, for the embedded test server (mongoeco needs >= 3.13).
#
#   scripts/build-python313.sh [PREFIX]
#
# PREFIX defaults to ${VELLUM_CACHE_DIR:-$HOME/.cache/vellum}/cpython-3.13.
# Idempotent: does nothing when PREFIX/bin/python3.13 already works.
# Needs root (or sudo) for apt-get; only Debian's package mirrors are used.
# Progress goes to stderr; build logs go to PREFIX.build/*.log.
set -euo pipefail

cache_dir="${VELLUM_CACHE_DIR:-$HOME/.cache/vellum}"
prefix="$(realpath -m "${1:-$cache_dir/cpython-3.13}")"
py="$prefix/bin/python3.13"
jobs="${VELLUM_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { echo "build-python313: $*" >&2; }

check_python() {
    "$py" - <<'PY' >/dev/null 2>&1
import sys
assert sys.version_info[:2] == (3, 13)
import ssl, sqlite3, zlib, ctypes, uuid, bz2, lzma, readline, ensurepip, venv  # noqa: F401
PY
}

if [ -x "$py" ] && check_python; then
    log "$py already works; nothing to do"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        log "error: need root (or sudo) to install build dependencies with apt-get"; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

# 1. A deb-src entry for trixie (sources only: no trixie binary package is ever
#    installed). bookworm's debian-archive-keyring (>= 2023.3+deb12u2) carries
#    trixie's keys; an older keyring is upgraded first (bookworm, then
#    bookworm-backports); an unsigned index is the last resort.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
src_list=/etc/apt/sources.list.d/vellum-trixie-src.sources
apt_log="$cache_dir/apt.log"
mkdir -p "$cache_dir"
: >"$apt_log"
apt_quiet() {  # run apt-get quietly; show its output only on failure
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2; log "apt-get $* failed; see $apt_log"; return 1
    fi
}
has_trixie_keys() { [ -f "$keyring" ] && [ -f /usr/share/keyrings/debian-archive-trixie-automatic.gpg ]; }
if ! has_trixie_keys; then
    log "archive keyring lacks trixie's keys; upgrading debian-archive-keyring"
    apt_quiet update || true
    apt_quiet install -y --only-upgrade debian-archive-keyring || true
    if ! has_trixie_keys; then
        bp=/etc/apt/sources.list.d/vellum-bookworm-backports.sources
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
            "$keyring" | $SUDO tee "$bp" >/dev/null
        apt_quiet update || true
        apt_quiet install -y -t bookworm-backports debian-archive-keyring || true
    fi
fi
if has_trixie_keys; then
    signed_by="Signed-By: $keyring"
else
    log "warning: no trixie key available; trusting the trixie deb-src index unsigned"
    signed_by="Trusted: yes"
fi
want="$(printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\n%s\n' "$signed_by")"
if [ ! -f "$src_list" ] || [ "$(cat "$src_list")" != "$want" ]; then
    log "adding $src_list"
    printf '%s\n' "$want" | $SUDO tee "$src_list" >/dev/null
fi

# 2. Build dependencies (bookworm -dev packages); only missing ones are
#    installed, so nothing already on the machine gets upgraded.
log "apt-get update"
apt_quiet update
deps="build-essential pkg-config ca-certificates xz-utils
    libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev liblzma-dev
    libreadline-dev uuid-dev libgdbm-dev libgdbm-compat-dev libncurses-dev
    libexpat1-dev"
missing=""
for pkg in $deps; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    log "installing build dependencies:$missing"
    # shellcheck disable=SC2086
    apt_quiet install -y --no-install-recommends $missing
fi

# 3. The source package. Only the upstream tarball (python3.13_X.orig.tar.xz,
#    checked by apt against the signed Sources index) is unpacked: Debian's
#    patches adapt Python to the system layout (dist-packages, ...), which a
#    private prefix does not want.
work="$prefix.build"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
log "apt-get source --download-only python3.13 (into $work)"
apt-get source --download-only -qq python3.13 >"$work/apt-source.log" 2>&1 || {
    cat "$work/apt-source.log" >&2; exit 1; }
orig="$(ls python3.13_*.orig.tar.xz | head -n1)"
log "unpacking $orig"
tar -xJf "$orig"
srcdir="$(ls -d Python-3.13.*/ | head -n1)"
cd "$srcdir"

# 4. configure / make / make install. No --enable-optimizations (PGO would
#    triple the build time of a test-only interpreter); no test modules nor
#    test suite; no pip in the base install (venvs get theirs from ensurepip).
log "configure --prefix=$prefix"
./configure --prefix="$prefix" --disable-test-modules --with-ensurepip=no >"$work/configure.log" 2>&1 || {
    tail -n 40 "$work/configure.log" >&2; log "configure failed; see $work/configure.log"; exit 1; }
log "make -j$jobs (a minute or two)"
make -j"$jobs" >"$work/make.log" 2>&1 || {
    tail -n 40 "$work/make.log" >&2; log "make failed; see $work/make.log"; exit 1; }
log "make install"
make install >"$work/install.log" 2>&1 || {
    tail -n 40 "$work/install.log" >&2; log "make install failed; see $work/install.log"; exit 1; }

# 5. Verify the extension modules the emulator and pip need.
if ! check_python; then
    "$py" -c 'import ssl, sqlite3, zlib, ctypes, uuid, bz2, lzma, readline' >&2 || true
    log "error: $py is missing extension modules; see $work/make.log"
    exit 1
fi
# Keep the logs; drop the ~500 MB source/object tree.
rm -rf "$work/$srcdir" "$work"/python3.13_*
log "done: $("$py" -c 'import sys; print(sys.version.split()[0])') at $py"
