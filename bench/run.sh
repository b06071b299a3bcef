#!/usr/bin/env bash
# Benchmarks of yhsm against the clients people use today (see BENCHMARKS.md).
#
#   bash bench/run.sh           full run: rewrites the results block of BENCHMARKS.md
#   bash bench/run.sh --quick   smoke run (few iterations, no extra release build):
#                               writes target/bench/BENCHMARKS.quick.md, not BENCHMARKS.md
#   bash bench/run.sh --footprint   only the footprint (crates, binary sizes, start-up):
#                               rewrites section 4 and its targets in BENCHMARKS.md
#
# Installs the peers (python-yubihsm 3.1.2 from PyPI, the `yubihsm` 0.42.1 crate from
# crates.io), builds the release binaries, and has bench/yhsm-bench host one fresh
# simulator per measurement. Needs cargo, python3 with pip, and network access to PyPI
# and crates.io the first time. PYTHON=/path/to/python3 picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
footprint_only=0
case "${1:-}" in
    --quick) quick=1 ;;
    --footprint) footprint_only=1 ;;
    "") ;;
    *) echo "usage: bash bench/run.sh [--quick | --footprint]" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
out=target/bench
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*" >&2; }

if [ "$quick" = 1 ]; then
    roundtrip_args=(--runs 1 --count 100)
    restore_files=16
    restore_runs=1
    hostcost_args=(--runs 3 --scale 0.05)
    startup_runs=5
    report=$out/BENCHMARKS.quick.md
else
    roundtrip_args=(--runs 9 --count 2000)
    restore_files=254
    restore_runs=9
    hostcost_args=(--runs 31 --scale 1)
    startup_runs=100
    report=BENCHMARKS.md
fi

step "peers: python-yubihsm 3.1.2 (PyPI)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check "yubihsm[http]==3.1.2"
"$PYTHON" -c 'import yubihsm; assert yubihsm.__version__ == "3.1.2", yubihsm.__version__'

if [ "$footprint_only" = 0 ]; then
    step "peers: the yubihsm 0.42.1 crate (bench/peers/yubihsm-rs)"
    cargo build --release --locked --quiet --manifest-path bench/peers/yubihsm-rs/Cargo.toml \
        --target-dir "$out/yubihsm-rs"
    rs_peer=$out/yubihsm-rs/release/yubihsm-rs-peer
fi

step "yhsm: release builds"
cargo build --release --locked --quiet -p yhsm --bin yhsm
cargo build --release --locked --quiet -p yhsm-bench
bench=target/release/yhsm-bench
if [ "$quick" = 0 ]; then
    # Its own target directory: the USB-only binary must not replace the default one.
    cargo build --release --locked --quiet -p yhsm --bin yhsm --no-default-features \
        --features usb --target-dir "$out/usb-only"
fi

# On a shared machine, measure at a higher priority than the rest when allowed (root):
# every client and the simulator inherit the same one.
prio=()
if nice -n -20 true 2>/dev/null; then prio=(nice -n -20); fi
# Client and simulator wait for each other; on separate CPUs each exchange also pays the
# wake-up of an idle CPU (tens of microseconds in a VM, depending on what else runs).
# On one CPU every client pays the same context switches and nothing else.
pin=()
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then pin=(taskset -c 0); fi

if [ "$footprint_only" = 0 ]; then
step "round trips"
"${prio[@]}" "${pin[@]}" "$bench" roundtrips "${roundtrip_args[@]}" --yubihsm-rs "$rs_peer" \
    --python "$PYTHON" --python-echo bench/peers/python_echo.py >"$out/roundtrips.md"

step "restore"
YHSM=target/release/yhsm bench/make-backup.sh "$out/backup" "$restore_files"
# The wrap key's attributes are the ones bench/make-backup.sh gives its shares.
"${prio[@]}" "${pin[@]}" "$bench" restore --runs "$restore_runs" --files "$restore_files" --yhsm target/release/yhsm \
    --python "$PYTHON" --python-restore bench/peers/python_restore.py --backup "$out/backup" \
    --wrap-key-file examples/keys/wrap-key.hex --wrap-id 0x0002 \
    --capabilities export-wrapped,import-wrapped \
    --delegated get-opaque,sign-ecdsa,sign-eddsa,sign-hmac,verify-hmac,exportable-under-wrap \
    >"$out/restore.md"

step "host cost"
"${prio[@]}" "$bench" hostcost "${hostcost_args[@]}" >"$out/hostcost.md"
fi

step "footprint"
# Unique crates (name and version) in a dependency tree, the root package included.
count_crates() { # DIR EDGES CARGO-TREE-ARGS...
    local dir=$1 edges=$2
    shift 2
    (cd "$dir" && cargo tree --locked -e "$edges" --prefix none "$@") |
        awk 'NF { print $1, $2 }' | sort -u | wc -l
}
# The `yubihsm` crate's USB-only build: its own package and lock file (bench/audit-lines.sh
# counts its lines too).
scratch=bench/peers/yubihsm-usb
usb=(--no-default-features --features usb)
ours_usb_n=$(count_crates . normal -p yhsm "${usb[@]}")
ours_usb_b=$(count_crates . normal,build -p yhsm "${usb[@]}")
ours_p256_n=$(count_crates . normal -p yhsm --no-default-features --features usb,p256)
ours_p256_b=$(count_crates . normal,build -p yhsm --no-default-features --features usb,p256)
lib_usb_n=$(count_crates . normal -p yhsm-transport "${usb[@]}")
lib_usb_b=$(count_crates . normal,build -p yhsm-transport "${usb[@]}")
ours_def_n=$(count_crates . normal -p yhsm)
ours_def_b=$(count_crates . normal,build -p yhsm)
# The scratch package itself is not a crate of the yubihsm build.
rs_usb_n=$(($(count_crates "$scratch" normal) - 1))
rs_usb_b=$(($(count_crates "$scratch" normal,build) - 1))
size_mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MiB (%d bytes)", b / 1048576, b }'; }
size_def=$(size_mib target/release/yhsm)
if [ "$quick" = 0 ]; then
    size_usb=$(size_mib "$out/usb-only/release/yhsm")
    usb_bytes=$(stat -c %s "$out/usb-only/release/yhsm")
else
    size_usb="not built (--quick)"
    usb_bytes=0
fi
# Start-up on one CPU: a parent woken on another CPU, busy with other work, can wait for
# the next scheduler tick (4 ms here) to see its child exit, which measures the machine.
startup=$("${prio[@]}" "${pin[@]}" "$bench" startup "$startup_runs" target/release/yhsm --version)
py_startup=$("${prio[@]}" "${pin[@]}" "$bench" startup "$startup_runs" "$PYTHON" -c 'import yubihsm.core')
verdict() { if [ "$1" = 1 ]; then echo met; else echo "**not met**"; fi; }
# Lines to audit: the totals bench/audit-lines.sh wrote into DEPENDENCIES.md (rerun it after
# a dependency change; it takes minutes).
audit_lines=$("$PYTHON" - <<'EOF'
import re
text = open("DEPENDENCIES.md").read()
block = re.search(r"<!-- audit-lines:begin.*?<!-- audit-lines:end -->", text, re.S)
rows = [r for r in (block.group(0) if block else "").splitlines()
        if r.startswith(("| yhsm, minimal", "| `yubihsm` 0.42.1, USB only"))]
cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
if len(cells) == 2:
    a, b = cells
    print(f"Lines of code to audit (Rust and C compiled in, comments and tests left out; "
          f"`bench/audit-lines.sh`, tables in DEPENDENCIES.md): yhsm's minimal build "
          f"{a[-1]} in {a[1]} crates, the `yubihsm` crate's USB-only build {b[-1]} in {b[1]}.")
else:
    print("Lines of code to audit: run `bash bench/audit-lines.sh` (DEPENDENCIES.md has no table yet).")
EOF
)
{
    echo "Unique crates (name and version) from \`cargo tree -e normal\` and \`-e normal,build\`, the"
    echo "root crate included (yhsm's own crates count too: yhsm, yhsm-proto, yhsm-transport)."
    echo
    echo "| build | crates, normal | crates, normal + build | stripped release binary |"
    echo "|---|---|---|---|"
    echo "| yhsm, USB only (\`-p yhsm --no-default-features --features usb\`): the auditor's minimal build | $ours_usb_n | $ours_usb_b | $size_usb |"
    echo "| yhsm, USB only with P-256 (\`--features usb,p256\`: asymmetric authentication, d·G checks) | $ours_p256_n | $ours_p256_b | — |"
    echo "| yhsm-transport, the library alone (protocol, sessions, USB), USB only | $lib_usb_n | $lib_usb_b | — (a library) |"
    echo "| yhsm, default features (usb, http, p256, keys, sim, usb-gadget) | $ours_def_n | $ours_def_b | $size_def |"
    echo "| \`yubihsm\` 0.42.1, USB only (\`default-features = false, features = [\"usb\"]\`) | $rs_usb_n | $rs_usb_b | — (a library) |"
    echo
    echo "Start-up, \`yhsm --version\` (a fresh process each time, file cache warm, ${pin[*]:-any CPU}; $startup_runs runs): $startup."
    echo "For scale, \`python3 -c 'import yubihsm.core'\`: $py_startup."
    echo
    echo "$audit_lines"
    echo
    echo "- USB-only build: $ours_usb_b crates with build dependencies (target ≤ 32): $(verdict $((ours_usb_b <= 32)))"
    echo "- USB-only build: $ours_usb_b crates with build dependencies (the auditor's bar, ≤ 40): $(verdict $((ours_usb_b <= 40)))"
    if [ "$quick" = 0 ]; then
        echo "- USB-only binary: $size_usb (target ≤ 2 MiB): $(verdict $((usb_bytes <= 2097152)))"
    fi
} >"$out/footprint.md"

if [ "$footprint_only" = 1 ]; then
    step "report (footprint only)"
    "$PYTHON" - BENCHMARKS.md "$out/footprint.md" <<'EOF'
import re, sys
path, footprint = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
text = open(path).read()
section = re.compile(r"(### 4\. Footprint\n\n).*?(\n<!-- bench:end -->)", re.S)
if not section.search(text):
    sys.exit(f"{path} has no generated '### 4. Footprint' section")
text = section.sub(lambda m: m.group(1) + footprint + m.group(2), text, count=1)
# The targets list at the top of the block: the footprint's lines replaced.
new_targets = [l for l in footprint.splitlines() if re.match(r"^- .*: (met|\*\*not met\*\*)$", l)]
m = re.search(r"### Targets\n\n(.*?)\n\n### Machine", text, re.S)
kept = [l for l in m.group(1).splitlines() if not l.startswith(("- USB-only build", "- USB-only binary"))]
text = text[: m.start(1)] + "\n".join(kept + new_targets) + text[m.end(1) :]
open(path, "w").write(text)
EOF
    step "wrote the footprint of BENCHMARKS.md"
    exit 0
fi

step "machine"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
aes=$(grep -qw aes /proc/cpuinfo && echo "AES-NI: yes" || echo "AES-NI: no")
{
    echo "| | |"
    echo "|---|---|"
    echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
    echo "| CPU | ${cpu:-unknown}, $(nproc) cores available, $aes |"
    echo "| memory | $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) |"
    echo "| kernel | $(uname -sr) |"
    echo "| load average at the end | $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine; measurements ran at ${prio[*]:-normal priority}) |"
    echo "| Rust | $(rustc -V) |"
    echo "| Python | $("$PYTHON" -c 'import platform; print(platform.python_implementation(), platform.python_version())'), python-yubihsm $("$PYTHON" -c 'import yubihsm; print(yubihsm.__version__)') |"
    echo "| yhsm | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- . ':!BENCHMARKS.md' 2>/dev/null || echo ' (with local changes)') |"
} >"$out/machine.md"

step "report"
mode="full run"
[ "$quick" = 1 ] && mode="quick smoke run: numbers not representative"
{
    echo "<!-- bench:begin (generated by bench/run.sh; do not edit by hand) -->"
    echo "_Generated by \`bash bench/run.sh\` ($mode)._"
    echo
    echo "### Targets"
    echo
    cat "$out"/roundtrips.md "$out"/restore.md "$out"/hostcost.md "$out"/footprint.md |
        grep -E '^- .*: (met|\*\*not met\*\*)$' || true
    echo
    echo "### Machine"
    echo
    cat "$out/machine.md"
    echo
    echo "### 1. Round trips"
    echo
    cat "$out/roundtrips.md"
    echo
    echo "### 2. Restore"
    echo
    cat "$out/restore.md"
    echo
    echo "### 3. Host cost of the protocol"
    echo
    cat "$out/hostcost.md"
    echo
    echo "### 4. Footprint"
    echo
    cat "$out/footprint.md"
    echo "<!-- bench:end -->"
} >"$out/results.md"

if [ "$quick" = 1 ]; then
    cp "$out/results.md" "$report"
else
    "$PYTHON" - "$report" "$out/results.md" <<'EOF'
import re, sys
report, results = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
text = open(report).read()
pattern = re.compile(r"<!-- bench:begin.*?<!-- bench:end -->", re.S)
if not pattern.search(text):
    sys.exit(f"{report} has no <!-- bench:begin --> ... <!-- bench:end --> block")
open(report, "w").write(pattern.sub(lambda _: results, text, count=1))
EOF
fi
step "wrote $report"
