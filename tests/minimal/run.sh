#!/usr/bin/env bash
# The auditor's minimal build (`-p yhsm --no-default-features --features usb`, no P-256):
#
# 1. it has at most 40 crates (`cargo tree -e normal,build`, yhsm included), none of the
#    P-256 stack;
# 2. the protocol and client crates without the feature `p256` (proto/tests/without_p256.rs,
#    transport/tests/without_p256.rs): ecp256 keys unwrap with their point unchecked,
#    asymmetric authentication is refused naming the feature and sends nothing;
# 3. a restore by a yhsm built without `p256` (USB and HTTP, so that it can reach the
#    simulator) against `yhsm sim serve`: the demo backup restores and verifies, and the
#    public key of each ecp256 key it imports is read back and compared (GET_PUBLIC_KEY in
#    its trace), where the default build, whose preflight checked d·G, reads none.
#
# Work files in a temporary directory; builds in target/minimal (the default target
# directory keeps its default-feature `yhsm`).
set -euo pipefail
cd "$(dirname "$0")/../.."

MAX_CRATES=40
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "crates of the minimal build (at most $MAX_CRATES)"
minimal=(-p yhsm --no-default-features --features usb)
cargo tree --locked "${minimal[@]}" -e normal,build --prefix none |
    awk 'NF { print $1, $2 }' | sort -u >"$work/crates.txt"
crates=$(wc -l <"$work/crates.txt")
echo "$crates crates"
[ "$crates" -le "$MAX_CRATES" ] || { cat "$work/crates.txt"; fail "$crates crates, more than $MAX_CRATES"; }
for c in p256 elliptic-curve crypto-bigint; do
    ! grep -q "^$c " "$work/crates.txt" || fail "$c is in the minimal build"
done

step "yhsm-proto without p256"
cargo test --locked -q -p yhsm-proto --no-default-features --test without_p256

step "yhsm-transport without p256"
cargo test --locked -q -p yhsm-transport --no-default-features --features sim --test without_p256

step "restore by a yhsm without p256 against the simulator"
cargo build --locked -q -p yhsm --bin yhsm
full=target/debug/yhsm
cargo build --locked -q -p yhsm --bin yhsm --no-default-features --features usb,http \
    --target-dir target/minimal
lean=target/minimal/debug/yhsm
"$lean" --version -v | tee "$work/version.txt"
grep -qx "features: http usb" "$work/version.txt" || fail "the lean build's features"

# restore BIN NAME: restores examples/backup onto a fresh `yhsm sim serve`, traced.
restore() {
    local bin=$1 name=$2
    "$full" sim serve --listen 127.0.0.1:0 >"$work/$name-server.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/$name-server.out" && break
        sleep 0.1
    done
    local url
    url=$(sed -n 's/^listening on //p' "$work/$name-server.out")
    [ -n "$url" ] || { cat "$work/$name-server.out"; fail "the simulator did not start"; }
    "$bin" -c "$url" --trace "$work/$name.jsonl" restore examples/backup \
        --shares-file examples/backup/shares.txt --password-file examples/backup/password.txt \
        | tee "$work/$name.out"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    grep -q "^Verified 5 objects" "$work/$name.out" || fail "$name: the restore did not verify"
    grep -q "^All done" "$work/$name.out" || fail "$name: the restore did not finish"
}
# The object ids of the get-public-key requests in a trace (inner frame `54 len id(2)`).
public_key_reads() {
    python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["command"] == "get-public-key" and e["inner_request"]:
        print("0x" + e["inner_request"][6:10])' "$1" | sort
}

restore "$lean" lean
restore "$full" full
# The ecp256 keys of the backup, as `yhsm inspect` tells them.
"$full" inspect --shares-file examples/backup/shares.txt --json examples/backup/*.yhw |
    python3 -c 'import json, sys
for o in json.load(sys.stdin):
    if o.get("algorithm") == "ecp256": print("0x%04x" % o["id"])' | sort >"$work/ecp256.txt"
echo "ecp256 keys in the backup: $(tr '\n' ' ' <"$work/ecp256.txt")"
[ -s "$work/ecp256.txt" ] || fail "the demo backup has no ecp256 key to check"
echo "public keys read back without p256: $(public_key_reads "$work/lean.jsonl" | tr '\n' ' ')"
diff <(public_key_reads "$work/lean.jsonl") "$work/ecp256.txt" ||
    fail "without p256, every imported ecp256 key's public key must be read and compared"
[ -z "$(public_key_reads "$work/full.jsonl")" ] ||
    fail "the default build read public keys of keys it imported (its preflight checked d·G)"

step "the minimal build passed"
