#!/usr/bin/env bash
# Runs README.md's "Two devices, from setup to clone" block as it is written (set -e: every
# command must succeed), so the story stays true. The block builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
block=$(awk '/^## Two devices, from setup to clone/ {s = 1} s && /^```sh$/ {c = 1; next} c && /^```$/ {exit} c' README.md)
[ -n "$block" ] || { echo "README.md: no two-device block found"; exit 1; }
out=$(bash -euo pipefail -c "$block" 2>&1) || { echo "$out"; echo "the README's two-device story failed"; exit 1; }
# Both secondaries match the backup (step 5 prints one summary line per device).
n=$(grep -c '^2 objects match, 0 missing, 0 different, 0 unexpected on the device$' <<<"$out" || true)
[ "$n" = 2 ] || { echo "$out"; echo "expected both devices to match the backup, got $n"; exit 1; }
echo "README two-device story: setup, dump, restore, clone, verify all passed"
