#!/usr/bin/env bash
# Writes the seed corpus of every fuzz target to fuzz/corpus/<target>/ (or
# $FUZZ_CORPUS/<target>/): the vendored Yubico vectors (vectors/: .yhw files, share
# strings, the SCP03 transcript's frames), frames of every typed command, genuine session
# answers made by proto's device half, command sequences for the simulator, and HTTP
# responses, status pages and URLs for the transport.
#
# The seeds are built by the libraries' own tests (`fuzzing::tests::write_seed_corpus`,
# ignored by a plain `cargo test`), so that seeds and entry points cannot drift apart.
# The corpus itself is not committed: it grows with every campaign.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
corpus="${FUZZ_CORPUS:-$here/corpus}"
mkdir -p "$corpus"
cd "$here/.."
for crate in yhsm-proto yhsm-sim yhsm-transport; do
    FUZZ_CORPUS="$corpus" cargo test --locked -q -p "$crate" --lib -- \
        --ignored --exact fuzzing::tests::write_seed_corpus >/dev/null
done
for dir in "$corpus"/*/; do
    printf '%-16s %3d seeds\n' "$(basename "$dir")" "$(find "$dir" -name 'seed-*' | wc -l)"
done
