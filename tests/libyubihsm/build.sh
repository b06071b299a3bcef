#!/usr/bin/env bash
# Builds Yubico's yubihsm-shell 2.8.0 (libyubihsm, yubihsm-shell, yubihsm-wrap, the
# PKCS#11 module, the examples and the PKCS#11 test programs) as Debug, so the examples'
# and tests' assert() checks stay in, into $CARGO_TARGET_DIR/libyubihsm/ (default
# target/libyubihsm/): src/ (the sources), build/ (cmake's tree), prefix/ (installed).
# A rerun with the same tarball and recipe only checks the stamp.
#
# The tarball: $YUBIHSM_SHELL_TARBALL, else shared/thirdparty/yubihsm-shell-2.8.0.tar.gz
# in a parent directory of the repository; checked against its sha256.
# Installs the build dependencies with apt-get when they are missing (needs root then).
# Prints the output directory on standard output; progress on standard error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../thirdparty.sh
. "$root/tests/thirdparty.sh"

TARBALL=yubihsm-shell-2.8.0.tar.gz
SHA256=d0090fe5c2fae991965b60b846de24f729c00b194192a722939284060d4430bc
# Bump when the recipe below changes, so cached builds are redone.
RECIPE=1
DEPS=(build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev libusb-1.0-0-dev
    gengetopt libedit-dev libpcsclite-dev help2man)

out=${CARGO_TARGET_DIR:-$root/target}/libyubihsm
log() { echo "libyubihsm build: $*" >&2; }

tarball=$(thirdparty_tarball $TARBALL $SHA256 YUBIHSM_SHELL_TARBALL)
stamp="$SHA256 recipe=$RECIPE"
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$out/prefix/bin/yubihsm-shell" ]; then
    log "cached in $out"
    echo "$out"
    exit 0
fi

apt_install "${DEPS[@]}"
t0=$(date +%s)
rm -rf "$out"
mkdir -p "$out/src"
tar -xzf "$tarball" -C "$out/src" --strip-components=1
log "cmake (Debug) in $out/build"
cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Debug -DDISABLE_LTO=ON \
    -DENABLE_STATIC=OFF -DCMAKE_INSTALL_PREFIX="$out/prefix" >"$out/cmake.log" 2>&1 || {
    tail -n 30 "$out/cmake.log" >&2
    log "cmake failed (see $out/cmake.log)"
    exit 1
}
log "make -j$(nproc) (a few minutes)"
{ make -C "$out/build" -j"$(nproc)" && make -C "$out/build" install; } >"$out/make.log" 2>&1 || {
    grep -E 'error|Error' "$out/make.log" | head -n 30 >&2
    log "make failed (see $out/make.log)"
    exit 1
}
echo "$stamp" >"$out/.stamp"
log "built in $(($(date +%s) - t0)) s"
echo "$out"
