#!/usr/bin/env bash
# Runs every fuzz target for ${FUZZ_SECONDS:-60} seconds, one after the other, from the
# seed corpus (seed.sh) and the saved regression inputs (regressions/<target>/), and
# prints the executions per target. Exits non-zero if any target crashed, timed out
# (an input running longer than ${FUZZ_TIMEOUT:-10} s) or ran out of memory (2 GiB).
#
# On stable Rust, RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (sanitizer
# coverage, AddressSanitizer). Findings land in fuzz/artifacts/<target>/; see README.md
# for turning one into a regression test.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${FUZZ_SECONDS:-60}"
timeout="${FUZZ_TIMEOUT:-10}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

echo "==> seeding"
"$here/seed.sh" || exit 1

cd "$here"
echo "==> building"
cargo fuzz build || exit 1

logs="$here/artifacts/logs"
mkdir -p "$logs"
status=0
summary=""
for target in $(cargo fuzz list); do
    echo "==> $target: ${seconds} s"
    corpora=("$here/corpus/$target")
    if [ -d "$here/regressions/$target" ]; then
        corpora+=("$here/regressions/$target")
    fi
    log="$logs/$target.log"
    cargo fuzz run "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -malloc_limit_mb=512 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    if [ "$rc" -eq 0 ]; then
        result="ok"
    else
        status=1
        result="FAILED (exit $rc)"
        grep -E 'ERROR: libFuzzer|panicked at|SUMMARY|Test unit written|deadly signal' "$log" | head -n 20
        echo "    log: $log"
    fi
    line="$(printf '%-16s %12s executions  %s' "$target" "${execs:-?}" "$result")"
    echo "    $line"
    summary+="$line"$'\n'
done

echo
echo "==> summary (${seconds} s per target)"
printf '%s' "$summary"
exit "$status"
