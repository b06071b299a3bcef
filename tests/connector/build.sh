#!/usr/bin/env bash
# Builds Yubico's yubihsm-connector 3.0.7 offline, with Debian's Go toolchain and
# Debian-packaged Go libraries in GOPATH mode (no module proxy), into
# $CARGO_TARGET_DIR/yubihsm-connector/yubihsm-connector (default target/...). A rerun with
# the same tarball and recipe only checks the stamp.
#
# The tarball: $YUBIHSM_CONNECTOR_TARBALL, else shared/thirdparty/yubihsm-connector-3.0.7.tar.gz
# in a parent directory of the repository; checked against its sha256.
# Installs the build dependencies with apt-get when they are missing (needs root then).
# Prints the binary's path on standard output; progress on standard error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../thirdparty.sh
. "$root/tests/thirdparty.sh"

TARBALL=yubihsm-connector-3.0.7.tar.gz
SHA256=1b56287ed2b96c6b5613710b89050925623a3d2cc0945278476c685469c4e672
# Bump when the recipe below changes, so cached builds are redone.
RECIPE=1
DEPS=(golang-go golang-github-google-gousb-dev golang-github-sirupsen-logrus-dev
    golang-github-spf13-cobra-dev golang-github-spf13-viper-dev
    golang-github-kardianos-service-dev golang-github-google-uuid-dev golang-gopkg-yaml.v3-dev
    libusb-1.0-0-dev pkg-config gcc)

out=${CARGO_TARGET_DIR:-$root/target}/yubihsm-connector
bin=$out/yubihsm-connector
log() { echo "yubihsm-connector build: $*" >&2; }

tarball=$(thirdparty_tarball $TARBALL $SHA256 YUBIHSM_CONNECTOR_TARBALL)
stamp="$SHA256 recipe=$RECIPE"
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$bin" ]; then
    log "cached in $out"
    echo "$bin"
    exit 0
fi

apt_install "${DEPS[@]}"
t0=$(date +%s)
rm -rf "$out"
src=$out/gopath/src/github.com/Yubico/yubihsm-connector
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1
# GOPATH mode: the module files would send the go tool to the module proxy.
rm -f "$src/go.mod" "$src/go.sum"
(
    cd "$src"
    export GO111MODULE=off GOPATH=$out/gopath:/usr/share/gocode GOCACHE=$out/gocache GOFLAGS=
    go generate >"$out/build.log" 2>&1 && go build -o "$bin" . >>"$out/build.log" 2>&1
) || {
    tail -n 30 "$out/build.log" >&2
    log "go build failed (see $out/build.log)"
    exit 1
}
"$bin" version >"$out/version.txt" 2>&1 || true
echo "$stamp" >"$out/.stamp"
log "built $(head -n 1 "$out/version.txt") in $(($(date +%s) - t0)) s"
echo "$bin"
