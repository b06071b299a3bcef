#!/usr/bin/env bash
# The minimal yhsm binary is bit-for-bit reproducible, and builds offline from the source
# archive (docs/AUDIT.md). Two independent release builds of the committed HEAD:
#
# 1. from a `git archive` copy in one temporary directory, dependencies from crates.io
#    through the usual CARGO_HOME (packaging/build-reproducible.sh);
# 2. later, from the source archive of packaging/source-archive.sh, extracted in another
#    temporary directory and built with an empty CARGO_HOME, CARGO_NET_OFFLINE=true and
#    the network cut off (`unshare -n`), every dependency from its vendor/ directory;
#
# then compares their SHA-256. Neither shares a target directory with the other, so every
# crate and libusb's C are compiled twice. Uncommitted changes are not built.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n==> %s\n' "$*"; }

commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes are not part of this check (it builds $commit)"
fi

step "build 1: a git checkout of ${commit:0:12} in $work/a (crates.io dependencies)"
start=$(date +%s)
mkdir "$work/a"
git archive --format=tar HEAD | tar -xf - -C "$work/a"
first=$( (cd "$work/a" && bash packaging/build-reproducible.sh --target-dir "$work/a/target") |
    cut -d' ' -f1)
echo "sha256 $first ($(($(date +%s) - start)) s)"

step "build 2: the source archive, extracted in another directory, offline"
start=$(date +%s)
sleep 1 # a later second than build 1, whatever the machine's speed
second=$(bash packaging/source-archive.sh --out "$work/archive" |
    sed -n 's/^expected sha256 of the minimal yhsm binary: //p')
echo "sha256 $second ($(($(date +%s) - start)) s)"

[ -n "$first" ] && [ -n "$second" ] || { echo "FAIL: a build failed" >&2; exit 1; }
if [ "$first" != "$second" ]; then
    echo "FAIL: the two builds differ: $first (git checkout) vs $second (source archive)" >&2
    exit 1
fi
step "reproducible: both builds are $first"
