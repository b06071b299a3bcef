#!/usr/bin/env bash
# A source archive for building yhsm where there is no network (the air-gapped restore
# machine): the sources of one commit with every dependency vendored (`cargo vendor`) and
# the cargo configuration that uses them. Then builds the minimal binary from that very
# archive the way an auditor would (extracted elsewhere, an empty CARGO_HOME,
# CARGO_NET_OFFLINE=true, and no network at all where `unshare -n` can make that), and
# prints the SHA-256 the auditor's build must match.
#
#   bash packaging/source-archive.sh [--ref REF] [--out DIR] [--no-build]
#
# Writes DIR/yhsm-VERSION-COMMIT.tar.gz (default DIR: target/source-archive) and, unless
# --no-build, DIR/yhsm-VERSION-COMMIT.sha256 with the archive's and the binary's SHA-256.
# The archive itself is reproducible too (sorted entries, the commit's time, no owners).
# Needs git, cargo, a C compiler, and crates.io once (to fetch what CARGO_HOME lacks).
set -euo pipefail
cd "$(dirname "$0")/.."

ref=HEAD
out=target/source-archive
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) ref=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "usage: bash packaging/source-archive.sh [--ref REF] [--out DIR] [--no-build]" >&2; exit 2 ;;
    esac
done
commit=$(git rev-parse --verify "$ref^{commit}")
if [ "$ref" = HEAD ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: the working tree has uncommitted changes; the archive holds commit ${commit:0:12} without them" >&2
fi
version=$(git show "$commit:Cargo.toml" | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)
name=yhsm-$version-${commit:0:12}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> sources of $commit" >&2
mkdir "$work/$name"
# git archive fills in cli/COMMIT (export-subst), which `yhsm --version -v` prints.
git archive --format=tar "$commit" | tar -xf - -C "$work/$name"

echo "==> cargo vendor" >&2
(cd "$work/$name" && cargo vendor --quiet --locked --versioned-dirs vendor >/dev/null)
cat >>"$work/$name/.cargo/config.toml" <<'EOF'

# Added by packaging/source-archive.sh: every dependency comes from vendor/, never the
# network (`cargo build --offline --locked`; docs/AUDIT.md).
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
EOF

echo "==> $out/$name.tar.gz" >&2
mtime=$(git log -1 --format=%ct "$commit")
tar --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$work" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz.tmp"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
archive_sha=$(sha256sum "$out/$name.tar.gz" | cut -d' ' -f1)
echo "archive: $out/$name.tar.gz"
echo "archive sha256: $archive_sha"
[ "$build" = 1 ] || exit 0

echo "==> building the minimal binary from the archive, offline" >&2
mkdir "$work/extracted" "$work/cargo-home"
tar -xzf "$out/$name.tar.gz" -C "$work/extracted"
# No network at all when a network namespace can be made (root, or user namespaces).
isolate=()
if unshare -n true 2>/dev/null; then
    isolate=(unshare -n)
elif unshare -rn true 2>/dev/null; then
    isolate=(unshare -rn)
else
    echo "note: cannot cut the network here (no unshare); relying on CARGO_NET_OFFLINE=true" >&2
fi
# The toolchain is found through rustup's proxies, which read RUSTUP_HOME, not CARGO_HOME.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
binary_sha=$( (cd "$work/extracted/$name" &&
    "${isolate[@]}" env CARGO_HOME="$work/cargo-home" CARGO_NET_OFFLINE=true \
        bash packaging/build-reproducible.sh --target-dir "$work/target") | cut -d' ' -f1)
[ -n "$binary_sha" ] || { echo "the build from the archive failed" >&2; exit 1; }
{
    echo "$archive_sha  $name.tar.gz"
    echo "$binary_sha  yhsm (packaging/build-reproducible.sh: -p yhsm --no-default-features --features usb)"
} >"$out/$name.sha256"
echo "expected sha256 of the minimal yhsm binary: $binary_sha"
echo "(in $out/$name.sha256; rebuild: docs/AUDIT.md)"
