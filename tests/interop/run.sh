#!/usr/bin/env bash
# Interop proof: Yubico's own Python client against the simulator's HTTP connector.
#
# 1. installs python-yubihsm 3.1.2 (with its HTTP backend), pytest and cryptography;
# 2. builds `yhsm` and starts `yhsm sim serve` on a free port;
# 3. runs our pytest file (tests/interop/test_python_yubihsm.py);
# 4. downloads python-yubihsm's sdist and runs every file of Yubico's device suite
#    (tests/device/*.py) against the simulator, printing pass/fail/skip counts per file;
# 5. stops the server. Exits non-zero if any test fails or errors, in our file or in any
#    file of Yubico's suite; tests the suite itself skips (those for a FIPS device) are
#    counted, not failed (see tests/INTEROP.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

YUBIHSM_VERSION=3.1.2
# Every test file of the suite: all of them must pass.
FILES="test_basic test_auth test_delete test_opaque test_logs test_reset test_wrap test_ec test_hmac test_aes test_rsa test_otp test_attestation"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> python dependencies (a virtual environment in target/interop-venv)"
# A bare Debian's python refuses system-wide pip installs (PEP 668), and its venv module
# comes in a package of its own.
# shellcheck source=../thirdparty.sh
. tests/thirdparty.sh
venv="$PWD/target/interop-venv"
if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    apt_install python3-venv python3-pip
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check \
    "yubihsm[http]==${YUBIHSM_VERSION}" pytest cryptography

echo "==> build yhsm"
cargo build --quiet -p yhsm --bin yhsm
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/yhsm"

echo "==> start the simulator"
"$bin" sim serve --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 50); do
    grep -q "listening on" "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$work/server.out")"
[ -n "$url" ] || { echo "the simulator did not start"; cat "$work/server.err"; exit 1; }
echo "simulator at $url"
curl -fsS "$url/connector/status" || true

status=0
echo "==> our interop tests (python-yubihsm ${YUBIHSM_VERSION} public API)"
YHSM_SIM_URL="$url" "$py" -m pytest -q -p no:cacheprovider tests/interop/test_python_yubihsm.py || status=1

echo "==> Yubico's device test suite (python-yubihsm ${YUBIHSM_VERSION} sdist)"
"$py" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$work" "yubihsm==${YUBIHSM_VERSION}"
tar -xzf "$work/yubihsm-${YUBIHSM_VERSION}.tar.gz" -C "$work"
suite="$work/yubihsm-${YUBIHSM_VERSION}"

printf '\n%-18s %6s %6s %6s %6s\n' file passed failed skipped errors
summary="$work/summary.txt"
: >"$summary"
for f in $FILES; do
    report="$work/$f.xml"
    ( cd "$suite" && timeout 1800 "$py" -m pytest -q -p no:cacheprovider "tests/device/$f.py" \
        --backend "$url" --junitxml "$report" >"$work/$f.log" 2>&1 ) || true
    python3 - "$report" "$f" >>"$summary" <<'PY'
import sys, xml.etree.ElementTree as ET
path, name = sys.argv[1], sys.argv[2]
try:
    root = ET.parse(path).getroot()
except Exception:
    # No report: the file did not run at all (collection error, timeout).
    print(f"{name} 0 0 0 1 no-report")
    sys.exit()
passed = failed = skipped = errors = 0
bad = []
for case in root.iter("testcase"):
    kinds = {c.tag for c in case}
    if "skipped" in kinds:
        skipped += 1
        # Only the suite's own skips for a non-FIPS device are allowed: a skip for another
        # reason (a feature the firmware version lacks) hides a test.
        message = case.find("skipped").get("message", "")
        if "Non-FIPS YubiHSM" not in message:
            bad.append(case.get("name") + "(skipped)")
    elif "failure" in kinds:
        failed += 1
        bad.append(case.get("name"))
    elif "error" in kinds:
        errors += 1
        bad.append(case.get("name"))
    else:
        passed += 1
if passed + failed + skipped + errors == 0:
    errors, bad = 1, ["no-tests-ran"]
print(name, passed, failed, skipped, errors, ",".join(bad) or "-")
PY
done
while read -r name passed failed skipped errors bad; do
    printf '%-18s %6s %6s %6s %6s\n' "$name" "$passed" "$failed" "$skipped" "$errors"
    if [ "$bad" != "-" ]; then
        echo "   failed: $bad"
        sed -n '/FAILURES\|ERRORS/,$p' "$work/$name.log" | head -60
        status=1
    fi
done <"$summary"

total_p=$(awk '{p+=$2} END {print p+0}' "$summary")
total_f=$(awk '{f+=$3+$5} END {print f+0}' "$summary")
total_s=$(awk '{s+=$4} END {print s+0}' "$summary")
echo "Yubico suite totals: passed=$total_p failed=$total_f skipped=$total_s"
if [ "$status" -ne 0 ]; then
    echo "interop: FAILED"
else
    echo "interop: every test passed (skipped: only those the suite skips on a non-FIPS device)"
fi
exit "$status"
