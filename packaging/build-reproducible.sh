#!/usr/bin/env bash
# Builds the auditor's minimal `yhsm` (USB only, no P-256, no simulator: `-p yhsm
# --no-default-features --features usb`) so that its bytes depend only on the sources, the
# Rust and C toolchains and the target, not on where or when it is built; prints its SHA-256.
#
#   bash packaging/build-reproducible.sh [--target-dir DIR] [--out FILE]
#
# Run from a git checkout (dependencies from crates.io through CARGO_HOME) or from a source
# archive made by packaging/source-archive.sh (dependencies from its vendor/ directory, no
# network: CARGO_NET_OFFLINE=true). Both give the same bytes: docs/AUDIT.md.
#
# What makes the build reproducible:
# - every path of a dependency's sources is remapped to /deps (registry or vendor/), the
#   target directory to /target; the workspace's own files are compiled with paths
#   relative to its root already; the same for the C compiler (libusb);
# - the release profile fixes the codegen (codegen-units = 1, thin LTO, panic = abort,
#   stripped symbols; Cargo.toml) and nothing reads the clock (SOURCE_DATE_EPOCH is set
#   all the same);
# - flags from the environment (RUSTFLAGS, CFLAGS, ...) are not used;
# - `--locked`: the dependency versions of Cargo.lock.
# `yhsm --version -v` names the commit, features and toolchains to use for the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=target/reproducible
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --target-dir) target_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: bash packaging/build-reproducible.sh [--target-dir DIR] [--out FILE]" >&2; exit 2 ;;
    esac
done
mkdir -p "$target_dir"
target_dir=$(cd "$target_dir" && pwd)
out=${out:-$target_dir/yhsm}
# The flags below are lists separated by spaces (the C compiler's CFLAGS has no other form).
case "$PWD$target_dir${CARGO_HOME:-$HOME/.cargo}" in
    *[[:space:]]*) echo "build-reproducible.sh: the source, target and CARGO_HOME paths must not contain spaces" >&2; exit 2 ;;
esac

remap=("--remap-path-prefix=$target_dir=/target")
cmaps=("-ffile-prefix-map=$target_dir=/target")
if [ -d vendor ]; then
    remap+=("--remap-path-prefix=$PWD/vendor=/deps")
    cmaps+=("-ffile-prefix-map=$PWD/vendor=/deps")
fi
shopt -s nullglob
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    remap+=("--remap-path-prefix=${d%/}=/deps")
    cmaps+=("-ffile-prefix-map=${d%/}=/deps")
done
shopt -u nullglob

host=$(rustc -vV | sed -n 's/^host: //p')
# Unset what would change the flags (the target-specific names hold a `-`: env -u).
clean=(-u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTDOCFLAGS -u TARGET_CFLAGS
    -u "CFLAGS_$host" -u "CFLAGS_${host//-/_}" -u CARGO_PROFILE_RELEASE_DEBUG
    -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS -u CARGO_PROFILE_RELEASE_LTO
    -u CARGO_PROFILE_RELEASE_OPT_LEVEL -u CARGO_PROFILE_RELEASE_STRIP
    -u CARGO_BUILD_TARGET -u CARGO_INCREMENTAL)
env "${clean[@]}" RUSTFLAGS="${remap[*]}" CFLAGS="${cmaps[*]}" SOURCE_DATE_EPOCH=1 \
    cargo build --release --locked -p yhsm --bin yhsm --no-default-features --features usb \
    --target-dir "$target_dir" >&2
if [ "$out" != "$target_dir/yhsm" ]; then
    mkdir -p "$(dirname "$out")"
    cp "$target_dir/release/yhsm" "$out"
else
    cp "$target_dir/release/yhsm" "$out.tmp" && mv "$out.tmp" "$out"
fi
"$out" --version -v >&2
sha256sum "$out"
