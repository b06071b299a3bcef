#!/usr/bin/env bash
# Lines to audit: vendors the dependencies of yhsm's minimal build (`-p yhsm
# --no-default-features --features usb`) and of the `yubihsm` crate 0.42.1's USB-only build
# (bench/peers/yubihsm-usb), checks each build against its vendored sources, counts per
# crate the Rust code rustc read and the C code compiled in (bench/audit_lines.py says
# how), and rewrites the tables between the audit-lines markers of DEPENDENCIES.md.
#
#   bash bench/audit-lines.sh           rewrite DEPENDENCIES.md
#   bash bench/audit-lines.sh --check   only print the totals (nothing rewritten)
#
# Needs cargo, a C compiler and python3; crates.io the first time (`cargo vendor` copies
# from the local registry cache once the crates are fetched). Work files: target/audit-lines/.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: bash bench/audit-lines.sh [--check]" >&2; exit 2 ;;
esac
command -v python3 >/dev/null || { echo "bench/audit-lines.sh needs python3" >&2; exit 1; }

out=$PWD/target/audit-lines
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*" >&2; }

# count NAME WORKSPACE-DIR SKIP-ROOT CARGO-ARGS...: vendors, checks and counts one build
# into $out/NAME.json.
count() {
    local name=$1 ws=$2 skip=$3
    shift 3
    local vendor=$out/$name-vendor target=$out/$name-target
    step "$name: cargo vendor"
    rm -rf "$vendor"
    (cd "$ws" && cargo vendor --quiet --locked --versioned-dirs "$vendor" >/dev/null)
    local src=(--config 'source.crates-io.replace-with="audit-vendored"'
        --config "source.audit-vendored.directory=\"$vendor\"")
    step "$name: cargo check --release against the vendored sources"
    # A fresh target directory: its dep-info files must be this build's only.
    rm -rf "$target"
    (cd "$ws" && cargo check --quiet --release --locked --offline "${src[@]}" \
        --target-dir "$target" "$@")
    (cd "$ws" && cargo tree --locked --offline "${src[@]}" -e normal,build --prefix none "$@") \
        >"$out/$name-tree.txt"
    # What reaches the binary: no build scripts, no procedural macros.
    (cd "$ws" && cargo tree --locked --offline "${src[@]}" -e normal,no-proc-macro --prefix none "$@") \
        >"$out/$name-normal-tree.txt"
    (cd "$ws" && cargo metadata --locked --offline "${src[@]}" --format-version 1 \
        --filter-platform "$(rustc -vV | sed -n 's/^host: //p')") >"$out/$name-metadata.json"
    python3 bench/audit_lines.py count --tree "$out/$name-tree.txt" \
        --normal-tree "$out/$name-normal-tree.txt" --metadata "$out/$name-metadata.json" \
        --target-dir "$target" --workspace "$ws" --skip "$skip" --out "$out/$name.json"
}

count yhsm . "" -p yhsm --no-default-features --features usb
# The peer is a crate of its own (not a workspace member) with its own lock file; its root
# package is only a `main` that opens the crate's USB connector, and is not counted.
count yubihsm bench/peers/yubihsm-usb yubihsm-usb-footprint

step "tables"
report=(python3 bench/audit_lines.py report --ours "$out/yhsm.json" --peer "$out/yubihsm.json")
if [ "$check" = 1 ]; then
    "${report[@]}"
else
    "${report[@]}" --write DEPENDENCIES.md README.md
    step "wrote DEPENDENCIES.md and README.md"
fi
