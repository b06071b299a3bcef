#!/usr/bin/env bash
# Interop with Yubico's C library and tools: libyubihsm, yubihsm-shell, yubihsm-wrap and the
# PKCS#11 module of yubihsm-shell 2.8.0, built from source (tests/libyubihsm/build.sh, a
# Debug build cached under target/), against `yhsm sim serve` over the yubihsm-connector
# HTTP API, and against yhsm's own backup tools:
#
#   example/NAME   every program of examples/ (21), each against a fresh simulator;
#   pkcs11/NAME    the PKCS#11 module's test programs of pkcs11/tests/ that need only a device;
#   shell/NAME     a scripted yubihsm-shell session: what backup and restore use;
#   restore/NAME   yubihsm-shell get-wrapped files restored by `yhsm restore`, checked with
#                  yubihsm-shell and openssl;
#   dump/NAME      `yhsm dump` files imported by yubihsm-shell put-wrapped, checked likewise;
#   inspect/ALG    yubihsm-wrap .yhw files of every kind read by `yhsm inspect` (public keys
#                  equal to openssl's) and imported by the simulator;
#   wrap/ALG       `yhsm wrap` and yubihsm-wrap given the same inputs: the same plaintext.
#
# Usage: tests/libyubihsm/run.sh [SECTION...]   (default all: examples pkcs11 shell backup kinds)
# Prints `PASS name` / `FAIL name: reason` per check and `libyubihsm: N passed, N failed`;
# exits non-zero on any failure. Logs: $CARGO_TARGET_DIR/libyubihsm-run/ (kept).
# Environment: YUBIHSM_SHELL_TARBALL (see build.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
sections=" ${*:-examples pkcs11 shell backup kinds} "
t_start=$(date +%s)
# shellcheck source=../thirdparty.sh
. "$root/tests/thirdparty.sh"

log() { echo "libyubihsm: $*" >&2; }

# --- build -----------------------------------------------------------------------------
apt_install openssl python3 python3-cryptography jq xxd
out=$("$here/build.sh")
build=$out/build
prefix=$out/prefix
log "cargo build (yhsm)"
(cd "$root" && cargo build --quiet --locked -p yhsm --bin yhsm)
yhsm=$target_dir/debug/yhsm
t_built=$(date +%s)

work=$target_dir/libyubihsm-run
rm -rf "$work"
mkdir -p "$work"

# The vendor's programs find libyubihsm in the install prefix.
vendor() { LD_LIBRARY_PATH=$prefix/lib "$@"; }

# --- results ---------------------------------------------------------------------------
passed=0
failed=0
oneline() { tr '\n' ' ' <<<"$*" | cut -c1-300; }
# check NAME FUNCTION [ARGS...]: runs FUNCTION in a subshell with errexit, so its first
# failing command fails the check; what it printed is the reason.
check() {
    local name=$1 reason rc
    shift
    set +e
    reason=$(
        set -e
        "$@" 2>&1
    )
    rc=$?
    set -e
    if [ $rc = 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: $(oneline "${reason:-exit $rc}")"
        failed=$((failed + 1))
    fi
}
section() { [[ $sections == *" $1 "* ]]; }

# --- simulators ------------------------------------------------------------------------
sim_pids=()
cleanup() {
    local p
    for p in "${sim_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
# start_sim NAME [OPTIONS...]: starts `yhsm sim serve` on a free port; sets $url.
start_sim() {
    local name=$1 _
    shift
    "$yhsm" sim serve --listen 127.0.0.1:0 "$@" >"$work/sim-$name.out" 2>"$work/sim-$name.err" &
    sim_pids+=($!)
    sim_pid=$!
    url=
    for _ in $(seq 1 400); do
        # The background shell may not have created the file yet.
        url=$(sed -n 's/^listening on //p' "$work/sim-$name.out" 2>/dev/null || true)
        [ -z "$url" ] || return 0
        sleep 0.05
    done
    log "simulator $name did not start: $(cat "$work/sim-$name.err")"
    exit 1
}
stop_sim() {
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
}

# ysh URL AUTHKEY PASSWORD ARGS...: one yubihsm-shell action; stdout in $work/y.out,
# stdout and stderr together in $work/y.all (yubihsm-shell prints some results on stderr).
# yubihsm-shell appends to an existing --out file: it is removed first.
ysh() {
    local u=$1 k=$2 p=$3 a prev=
    shift 3
    for a in "$@"; do
        [ "$prev" != --out ] || rm -f -- "$a"
        prev=$a
    done
    vendor "$prefix/bin/yubihsm-shell" -C "$u" --authkey "$k" -p "$p" "$@" >"$work/y.out" 2>"$work/y.err"
    local rc=$?
    cat "$work/y.out" "$work/y.err" >"$work/y.all"
    return $rc
}
# y1 ARGS...: ysh on $url as the factory key 1.
y1() { ysh "$url" 1 password "$@"; }
# ysh_i URL AUTHKEY PASSWORD: yubihsm-shell's interactive mode, commands on stdin after
# `connect` and `session open` (session 0); output in $work/y.all.
ysh_i() {
    { printf 'connect\nsession open %s %s\n' "$2" "$3" && cat && printf 'quit\n'; } |
        vendor "$prefix/bin/yubihsm-shell" -C "$1" >"$work/y.all" 2>&1
}
# need COMMAND...: runs COMMAND; on failure prints what failed with yubihsm-shell's output.
need() {
    "$@" || {
        echo "$* failed: $(tail -n 3 "$work/y.all" 2>/dev/null)"
        return 1
    }
}
has() {
    grep -Eq -- "$1" "$work/y.all" || {
        echo "no line matching '$1' in: $(tail -n 4 "$work/y.all")"
        return 1
    }
}

# --- keys and data made with openssl, shared by the sections below ---------------------
keys=$work/keys
mkdir -p "$keys"
openssl rand 32 >"$keys/wrap256.bin"
openssl rand 24 >"$keys/wrap192.bin"
openssl rand 16 >"$keys/wrap128.bin"
for s in 128 192 256; do xxd -p -c 64 "$keys/wrap$s.bin" >"$keys/wrap$s.hex"; done
openssl genpkey -algorithm ed25519 -out "$keys/ed25519.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp384r1 -out "$keys/ecp384.pem" 2>/dev/null
echo 'data signed by the devices: libyubihsm interop' >"$keys/data"
# The raw private key (the ed25519 seed) is the last 32 bytes of its PKCS#8 DER.
ed_seed=$(openssl pkey -in "$keys/ed25519.pem" -outform DER | tail -c 32 | xxd -p -c 64)

# raw_pubkey PEMFILE ALG: the public key as the device gives it (hex): the modulus of an RSA
# key, X || Y of an EC key, the 32 bytes of an ed25519 key; from openssl.
raw_pubkey() {
    case $2 in
    rsa*) openssl rsa -in "$1" -noout -modulus 2>/dev/null | sed 's/^Modulus=//' | tr 'A-F' 'a-f' ;;
    ed25519) openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | xxd -p -c 1000 ;;
    *) local bits
       bits=$(openssl pkey -in "$1" -noout -text 2>/dev/null | sed -n 's/.*(\([0-9]*\) bit).*/\1/p' | head -n 1)
       openssl pkey -in "$1" -pubout -outform DER | tail -c $((2 * ((bits + 7) / 8))) | xxd -p -c 1000 ;;
    esac
}

# =======================================================================================
# 1. examples/: every program, each against a fresh simulator, from its build directory
#    (they read their key files from the working directory). Each must exit 0 (a failed
#    assert() aborts it) and print its last success line.
# =======================================================================================
examples=(
    'asym_auth|^Response \(23 bytes\): "sudo make me a sandwich"$'
    'attest|'
    'change_authkey|^Successfully established session 00 using Authentcation Key [0-9a-f]{4} and password "PASSWORD"$'
    'decrypt_ec|^Secrets match$'
    'decrypt_rsa|^OAEP decrypted data matches$'
    'echo|^Response \(23 bytes\): "sudo make me a sandwich"$'
    'encrypt_aes|^AES-CBC decryption successful$'
    'generate_ec|^Signature successfully verified$'
    'generate_hmac|^Successfully verified HMAC$'
    'generate_rsa|^Signature successfully verified$'
    'import_authkey|^Unable to get random data: Wrong permissions for operation$'
    'import_ec|^Signature successfully verified$'
    'import_ed|^Public key \(32 bytes\) is:'
    'import_rsa|^Signature successfully verified$'
    'info|^Device Version: 2\.4\.0$'
    'logs|^Logs correctly verified$'
    'p11_generate_rsa|'
    'ssh|'
    'wrap|^RSA signature after successfully verified$'
    'wrap_data|'
    'yubico_otp|'
)
run_example() {
    local name=$1 want=$2 rc
    [ -x "$build/examples/$name" ] || {
        echo "not built: $build/examples/$name"
        return 1
    }
    echo "connector = $url" >"$work/p11.conf"
    set +e
    (cd "$build/examples" && DEFAULT_CONNECTOR_URL=$url YUBIHSM_PKCS11_CONF=$work/p11.conf \
        vendor timeout 300 "./$name" "$build/pkcs11/yubihsm_pkcs11.so") >"$work/example-$name.log" 2>&1
    rc=$?
    set -e
    local last
    last=$(grep -v '^\[' "$work/example-$name.log" | tail -n 2 || true)
    [ $rc = 0 ] || {
        echo "exit $rc: $last"
        return 1
    }
    if [ -n "$want" ] && ! grep -Eq -- "$want" "$work/example-$name.log"; then
        echo "no line matching '$want': $last"
        return 1
    fi
    # generate_hmac does not assert its verdicts: the HMAC verifies, the altered one not.
    if [ "$name" = generate_hmac ] &&
        [ "$(grep -E 'verify HMAC|verified HMAC' "$work/example-$name.log" | tr '\n' '|')" != "Successfully verified HMAC|Unable to verify HMAC|" ]; then
        echo "HMAC verdicts: $(grep HMAC "$work/example-$name.log" | tr '\n' ' ')"
        return 1
    fi
    return 0
}
if section examples; then
    [ "$(find "$build/examples" -maxdepth 1 -type f -executable | wc -l)" = ${#examples[@]} ] ||
        log "warning: $build/examples holds $(find "$build/examples" -maxdepth 1 -type f -executable | wc -l) programs, ${#examples[@]} expected"
    for e in "${examples[@]}"; do
        start_sim "example-${e%%|*}"
        check "example/${e%%|*}" run_example "${e%%|*}" "${e#*|}"
        stop_sim
    done
fi

# =======================================================================================
# 2. pkcs11/tests/: the test programs that need only a device (they log in as key 1
#    through the module, with the connector from DEFAULT_CONNECTOR_URL). engine_tests.sh
#    (OpenSSL's pkcs11 engine and OpenSC) and pkcs11test.sh (Google's pkcs11test) need other
#    programs and are not run.
# =======================================================================================
# NAME|a line it prints at the end of its work (all but pkcs11_interfaces_test, which only
# initializes the module, open a session through it first).
pkcs11_tests=(
    'aes_encrypt_test|^Running test 8 \(CKM_AES_CBC_PAD, AES256\)\.\.\. OK$'
    'asym_wrap_test|^OK!$'
    'ecdh_derive_test|^Destroying ECDH key [0-9]+\.\.\. OK!$'
    'ecdh_sp800_test|^Deleted key from YubiHSM\. OK$'
    'pkcs11_interfaces_test|'
    'pss_sign_test|^OK!$'
    'rsa_enc_test|^RSA 4096 : RSA_PKCS1_OAEP_PADDING$'
)
run_pkcs11_test() {
    local name=$1 want=$2 rc
    set +e
    (cd "$build/pkcs11/tests" && DEFAULT_CONNECTOR_URL=$url vendor timeout 600 \
        "./$name" "$build/pkcs11/yubihsm_pkcs11.so") >"$work/pkcs11-$name.log" 2>&1
    rc=$?
    set -e
    # 64 is ctest's SKIP_RETURN_CODE for aes_encrypt_test (a device without AES): a failure here.
    [ $rc = 0 ] || {
        echo "exit $rc: $(tail -n 2 "$work/pkcs11-$name.log")"
        return 1
    }
    [ -z "$want" ] || grep -q '^Session open and authenticated$' "$work/pkcs11-$name.log" || {
        echo "no session: $(tail -n 2 "$work/pkcs11-$name.log")"
        return 1
    }
    [ -z "$want" ] || grep -Eq -- "$want" "$work/pkcs11-$name.log" || {
        echo "no line matching '$want': $(tail -n 2 "$work/pkcs11-$name.log")"
        return 1
    }
}
if section pkcs11; then
    for t in "${pkcs11_tests[@]}"; do
        start_sim "pkcs11-${t%%|*}"
        check "pkcs11/${t%%|*}" run_pkcs11_test "${t%%|*}" "${t#*|}"
        stop_sim
    done
fi

# =======================================================================================
# 3. A scripted yubihsm-shell session: what backup and restore use.
# =======================================================================================
SERIAL=7005123
shell_device_info() {
    need y1 -a get-device-info
    has "^Version number:[[:space:]]+2\.4\.0$" && has "^Serial number:[[:space:]]+$SERIAL$" &&
        has "aes256-ccm-wrap" && has "ed25519" && has "^Log used:[[:space:]]+[0-9]+/62$"
}
# storage_free: "RECORDS PAGES" free.
storage_free() {
    y1 -a get-storage-info || return 1
    sed -n 's/^free records: \([0-9]*\)\/256, free pages: \([0-9]*\)\/1024 page size: 126 bytes$/\1 \2/p' "$work/y.all"
}
shell_storage_info() {
    local before after
    before=$(storage_free) || { echo "get-storage-info failed: $(cat "$work/y.all")"; return 1; }
    [ "${before%% *}" = 255 ] || { echo "fresh device: free records '$before' (want 255 of 256)"; return 1; }
    echo "$before" >"$work/storage-fresh"
    need y1 -a generate-asymmetric-key -i 0x0300 -l storage -d 1 -c sign-ecdsa -A ecp256
    after=$(storage_free)
    [ "${after%% *}" = 254 ] && [ "${after#* }" -lt "${before#* }" ] ||
        { echo "after one key: '$after', before '$before'"; return 1; }
    need y1 -a delete-object -i 0x0300 -t asymmetric-key
    [ "$(storage_free)" = "$before" ] || { echo "after delete: '$(storage_free)', want '$before'"; return 1; }
}
WRAP_ALL_CAPS=export-wrapped,import-wrapped
shell_put_wrap_keys() {
    local s id len
    for s in 128 192 256; do
        case $s in 128) id=0x0011 len=24 ;; 192) id=0x0012 len=32 ;; 256) id=0x0013 len=40 ;; esac
        need y1 -a put-wrap-key -i $id -l "put-wrap-$s" -d 1,2 -c $WRAP_ALL_CAPS --delegated all \
            --in "$keys/wrap$s.hex"
        has "^Stored Wrap key $id$"
        need y1 -a get-object-info -i $id -t wrap-key
        has "^id: $id, type: wrap-key, algorithm: aes$s-ccm-wrap, label: \"put-wrap-$s\", length: $len, domains: 1:2, sequence: 0, origin: imported, capabilities: export-wrapped:import-wrapped, delegated_capabilities: .*sign-eddsa" ||
            return 1
    done
}
shell_generate_wrap_keys() {
    local s id
    for s in 128 192 256; do
        case $s in 128) id=0x0021 ;; 192) id=0x0022 ;; 256) id=0x0023 ;; esac
        need y1 -a generate-wrap-key -i $id -l "gen-wrap-$s" -d 3 -c $WRAP_ALL_CAPS \
            --delegated exportable-under-wrap,sign-ecdsa -A aes$s-ccm-wrap
        has "^Generated Wrap key $id$"
        need y1 -a get-object-info -i $id -t wrap-key
        has "^id: $id, type: wrap-key, algorithm: aes$s-ccm-wrap, label: \"gen-wrap-$s\", length: [0-9]+, domains: 3, sequence: 0, origin: generated, capabilities: export-wrapped:import-wrapped, delegated_capabilities: exportable-under-wrap:sign-ecdsa$" ||
            return 1
    done
}
# listed ARGS...: the ids list-objects prints for a filter, sorted, on one line.
listed() {
    y1 -a list-objects "$@" || return 1
    grep -o '^id: 0x[0-9a-f]*' "$work/y.all" | cut -d' ' -f2 | sort | tr '\n' ' ' | sed 's/ $//'
}
shell_list_filters() {
    need y1 -a generate-asymmetric-key -i 0x0100 -l signer -d 2 -c sign-ecdsa,exportable-under-wrap -A ecp256
    need y1 -a put-asymmetric-key -i 0x0101 -l edkey -d 1 -c sign-eddsa,exportable-under-wrap --in "$keys/ed25519.pem"
    need y1 -a put-asymmetric-key -i 0x0013 -l "same id, other type" -d 4 -c sign-ecdsa --in "$keys/ecp384.pem"
    local got want bad=
    for f in "|0x0001 0x0011 0x0012 0x0013 0x0013 0x0021 0x0022 0x0023 0x0100 0x0101" \
        "-t wrap-key|0x0011 0x0012 0x0013 0x0021 0x0022 0x0023" \
        "-t asymmetric-key|0x0013 0x0100 0x0101" \
        "-A aes192-ccm-wrap|0x0012 0x0022" \
        "-A ed25519|0x0101" \
        "-i 0x0013|0x0013 0x0013" \
        "-l signer|0x0100" \
        "-d 2|0x0001 0x0011 0x0012 0x0013 0x0100" \
        "-d 4|0x0001 0x0013" \
        "-c sign-eddsa|0x0001 0x0101" \
        "-t asymmetric-key -d 2|0x0100"; do
        # shellcheck disable=SC2086 # the filter options are separate words
        got=$(listed ${f%%|*}) || { echo "list-objects ${f%%|*} failed: $(cat "$work/y.all")"; return 1; }
        want=${f#*|}
        [ "$got" = "$want" ] || bad="$bad [${f%%|*}: got '$got', want '$want']"
    done
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}
shell_get_object_info() {
    need y1 -a get-object-info -i 0x0100 -t asymmetric-key
    has '^id: 0x0100, type: asymmetric-key, algorithm: ecp256, label: "signer", length: [0-9]+, domains: 2, sequence: 0, origin: generated, capabilities: exportable-under-wrap:sign-ecdsa$' ||
        return 1
    # Same id, other type: each its own object.
    need y1 -a get-object-info -i 0x0013 -t asymmetric-key
    has '^id: 0x0013, type: asymmetric-key, algorithm: ecp384, label: "same id, other type", .*origin: imported, capabilities: sign-ecdsa$' ||
        return 1
    ! y1 -a get-object-info -i 0x0999 -t opaque || { echo "an absent object has an info"; return 1; }
    has "Object not found"
}
# A key wrapped under each put wrap key (known key material): the file decrypts under it
# (with python's cryptography, not yhsm), names the key, and imports back.
shell_wrap_roundtrip() {
    local s=$1 id
    case $s in 128) id=0x0011 ;; 192) id=0x0012 ;; 256) id=0x0013 ;; esac
    need y1 -a get-public-key -i 0x0100 --out "$work/pub-0100.pem"
    need y1 -a get-wrapped --wrap-id $id -i 0x0100 -t asymmetric-key --out "$work/wrapped-$s"
    local plain
    plain=$(python3 "$here/yhw-decrypt.py" "$keys/wrap$s.bin" "$work/wrapped-$s") || {
        echo "get-wrapped file does not decrypt under the put wrap key"
        return 1
    }
    # The header (docs/PROTOCOL.md §5.3), in hex digits: wrap algorithm at 0 (29, 41, 42 for
    # AES-128/192/256), id at 18, domains at 26, type 03 at 30, algorithm 0c (ecp256) at 32,
    # sequence 00 at 34, origin at 36 (01 generated; 11 once imported back by the round
    # trip under a smaller key), label at 38.
    local want_alg want_origin=11
    case $s in 128) want_alg=1d want_origin=01 ;; 192) want_alg=29 ;; 256) want_alg=2a ;; esac
    [ "${plain:0:2} ${plain:18:4} ${plain:26:4} ${plain:30:6} ${plain:36:2} ${plain:38:14}" = \
        "$want_alg 0100 0002 030c00 $want_origin 7369676e657200" ] || { echo "unexpected header: ${plain:0:120}"; return 1; }
    need y1 -a delete-object -i 0x0100 -t asymmetric-key
    need y1 -a put-wrapped --wrap-id $id --in "$work/wrapped-$s"
    has "^Object imported as 0x0100 of type asymmetric-key$"
    need y1 -a get-object-info -i 0x0100 -t asymmetric-key
    has 'origin: generated:imported_wrapped, capabilities: exportable-under-wrap:sign-ecdsa$'
    need y1 -a get-public-key -i 0x0100 --out "$work/pub-0100-after.pem"
    cmp -s "$work/pub-0100.pem" "$work/pub-0100-after.pem" || { echo "public key changed"; return 1; }
}
# An ed25519 key exported with --include-seed carries the seed, without it not; the seed
# file imports back and signs: openssl verifies the signature with the original key.
shell_ed25519_seed() {
    local with without
    need y1 -a get-wrapped --wrap-id 0x0013 -i 0x0101 -t asymmetric-key --include-seed --out "$work/ed-seed"
    need y1 -a get-wrapped --wrap-id 0x0013 -i 0x0101 -t asymmetric-key --out "$work/ed-noseed"
    with=$(python3 "$here/yhw-decrypt.py" "$keys/wrap256.bin" "$work/ed-seed") &&
        without=$(python3 "$here/yhw-decrypt.py" "$keys/wrap256.bin" "$work/ed-noseed") ||
        { echo "files do not decrypt"; return 1; }
    [[ $with == *"$ed_seed"* ]] || { echo "--include-seed file lacks the seed"; return 1; }
    [[ $without != *"$ed_seed"* ]] || { echo "file without --include-seed holds the seed"; return 1; }
    need y1 -a delete-object -i 0x0101 -t asymmetric-key
    need y1 -a put-wrapped --wrap-id 0x0013 --in "$work/ed-seed"
    need y1 -a sign-eddsa -i 0x0101 -A ed25519 --in "$keys/data" --informat binary --outformat binary --out "$work/ed.sig"
    openssl pkey -in "$keys/ed25519.pem" -pubout -out "$work/ed-pub.pem"
    openssl pkeyutl -verify -pubin -inkey "$work/ed-pub.pem" -rawin -in "$keys/data" -sigfile "$work/ed.sig" >/dev/null ||
        { echo "openssl does not verify the signature of the imported key"; return 1; }
}
shell_authentication_key() {
    need y1 -a put-authentication-key -i 0x0005 -l operator -d 1,2 \
        -c get-pseudo-random,export-wrapped,sign-ecdsa --delegated none --new-password "s3cret pass"
    has "^Stored Authentication key 0x0005$"
    need y1 -a get-object-info -i 0x0005 -t authentication-key
    has '^id: 0x0005, type: authentication-key, algorithm: aes128-yubico-authentication, label: "operator", length: 40, domains: 1:2, sequence: 0, origin: imported, capabilities: export-wrapped:get-pseudo-random:sign-ecdsa, delegated_capabilities: $' ||
        return 1
    ysh "$url" 5 "s3cret pass" -a get-pseudo-random --count 16 || { echo "session as key 5 failed: $(cat "$work/y.all")"; return 1; }
    grep -Eq '^[0-9a-f]{32}$' "$work/y.out" || { echo "random: $(cat "$work/y.out")"; return 1; }
    # Its capabilities bind: sign with a key of domain 2 yes, delete no; a wrong password fails.
    ysh "$url" 5 "s3cret pass" -a sign-ecdsa -i 0x0100 -A ecdsa-sha256 --in "$keys/data" --informat binary --outformat binary --out "$work/ec.sig" ||
        { echo "sign as key 5 failed: $(cat "$work/y.all")"; return 1; }
    openssl dgst -sha256 -verify "$work/pub-0100.pem" -signature "$work/ec.sig" "$keys/data" >/dev/null ||
        { echo "openssl does not verify key 0x0100's signature"; return 1; }
    ! ysh "$url" 5 "s3cret pass" -a delete-object -i 0x0100 -t asymmetric-key || { echo "key 5 deleted an object"; return 1; }
    has "Wrong permissions for operation"
    ! ysh "$url" 5 "wrong" -a get-pseudo-random --count 16 || { echo "a wrong password opened a session"; return 1; }
    has "Failed to create session"
}
shell_delete() {
    need y1 -a delete-object -i 0x0013 -t asymmetric-key
    [ "$(listed -i 0x0013)" = 0x0013 ] || { echo "after delete: $(listed -i 0x0013)"; return 1; }
    need y1 -a get-object-info -i 0x0013 -t wrap-key
    ! y1 -a get-object-info -i 0x0013 -t asymmetric-key || { echo "deleted key still has an info"; return 1; }
    ! y1 -a delete-object -i 0x0013 -t asymmetric-key || { echo "deleted twice"; return 1; }
    has "Object not found"
}
shell_reset() {
    need y1 -a reset
    has "^Device successfully reset$"
    [ "$(listed)" = 0x0001 ] || { echo "after reset: $(cat "$work/y.all")"; return 1; }
    [ "$(storage_free)" = "$(cat "$work/storage-fresh")" ] || { echo "storage after reset: $(cat "$work/y.all")"; return 1; }
    ! ysh "$url" 5 "s3cret pass" -a get-pseudo-random || { echo "key 5 survived the reset"; return 1; }
}
if section shell; then
    start_sim shell --serial $SERIAL
    check shell/device-info shell_device_info
    check shell/storage-info shell_storage_info
    check shell/put-wrap-keys shell_put_wrap_keys
    check shell/generate-wrap-keys shell_generate_wrap_keys
    check shell/list-filters shell_list_filters
    check shell/get-object-info shell_get_object_info
    for s in 128 192 256; do
        check shell/get-put-wrapped-aes$s shell_wrap_roundtrip $s
    done
    check shell/ed25519-include-seed shell_ed25519_seed
    check shell/authentication-key shell_authentication_key
    check shell/delete shell_delete
    check shell/reset shell_reset
    stop_sim
fi

# =======================================================================================
# 4. Backups made by yubihsm-shell (get-wrapped), restored by `yhsm restore`; 5. backups
#    made by `yhsm dump`, imported by yubihsm-shell (put-wrapped). Both checked with
#    yubihsm-shell and openssl against the source device's public keys and known keys.
# =======================================================================================
src=$work/src
mkdir -p "$src/backup"
ADMIN_PW=restored-admin-password
openssl rand -hex 32 >"$keys/hmac.hex"
openssl rand -hex 16 >"$keys/aes128.hex"
openssl rand 16 >"$keys/block"
openssl req -x509 -new -key "$keys/ecp384.pem" -subj "/CN=libyubihsm interop" -days 1 \
    -out "$keys/cert.pem" 2>/dev/null
openssl x509 -in "$keys/cert.pem" -outform DER -out "$keys/cert.der"
echo password >"$work/password.txt"
printf '%s\n' "$ADMIN_PW" >"$work/admin-password.txt"
# ID|TYPE|file name of the backup (as yubihsm-setup dump names them)
backup_objects=(
    "0x0003|authentication-key"
    "0x0100|asymmetric-key"
    "0x0101|asymmetric-key"
    "0x0102|asymmetric-key"
    "0x0103|asymmetric-key"
    "0x0200|hmac-key"
    "0x0300|symmetric-key"
    "0x0400|opaque"
)
backup_file() { echo "${1}-${2}.yhw"; }
# object_info URL KEY PW ID TYPE: get-object-info without sequence and origin (an import
# changes both).
object_info() {
    ysh "$1" "$2" "$3" -a get-object-info -i "$4" -t "$5" || return 1
    grep '^id: ' "$work/y.out" | sed 's/ sequence: [0-9]*, origin: [a-z_:]*,//'
}
source_objects() {
    need y1 -a put-wrap-key -i 0x0002 -l backup-wrap -d all -c $WRAP_ALL_CAPS --delegated all --in "$keys/wrap256.hex"
    need y1 -a put-authentication-key -i 0x0003 -l backup-admin -d all -c all --delegated all --new-password "$ADMIN_PW"
    need y1 -a generate-asymmetric-key -i 0x0100 -l gen-p256 -d 1 -c sign-ecdsa,exportable-under-wrap -A ecp256
    need y1 -a put-asymmetric-key -i 0x0101 -l put-p384 -d 1,2 -c sign-ecdsa,exportable-under-wrap --in "$keys/ecp384.pem"
    need y1 -a generate-asymmetric-key -i 0x0102 -l gen-rsa2048 -d 2 -c sign-pkcs,exportable-under-wrap -A rsa2048
    need y1 -a put-asymmetric-key -i 0x0103 -l put-ed25519 -d 3 -c sign-eddsa,exportable-under-wrap --in "$keys/ed25519.pem"
    printf 'put hmackey 0 0x0200 put-hmac 4 sign-hmac,verify-hmac,exportable-under-wrap hmac-sha256 %s\n' \
        "$(cat "$keys/hmac.hex")" | ysh_i "$url" 1 password
    has "^Stored HMAC key 0x0200$"
    need y1 -a put-symmetric-key -i 0x0300 -l put-aes128 -d 5 -c encrypt-ecb,decrypt-ecb,exportable-under-wrap -A aes128 --in "$keys/aes128.hex"
    need y1 -a put-opaque -i 0x0400 -l certificate -d 6 -c exportable-under-wrap -A opaque-x509-certificate --informat PEM --in "$keys/cert.pem"
    has "^Stored [0-9]+ bytes to Opaque object 0x0400$"
    local o id type seed=
    for o in "${backup_objects[@]}"; do
        id=${o%%|*} type=${o#*|}
        [ "$id" = 0x0103 ] && seed=--include-seed || seed=
        need y1 -a get-wrapped --wrap-id 0x0002 -i "$id" -t "$type" $seed --out "$src/backup/$(backup_file "$id" "$type")"
        object_info "$url" 1 password "$id" "$type" >"$src/info-$id"
        [ -s "$src/info-$id" ]
    done
    for id in 0x0100 0x0101 0x0102 0x0103; do
        need y1 -a get-public-key -i $id --out "$src/pub-$id.pem"
    done
    # The put ones are the keys openssl made.
    cmp -s <(openssl pkey -in "$keys/ecp384.pem" -pubout) "$src/pub-0x0101.pem"
    cmp -s <(openssl pkey -in "$keys/ed25519.pem" -pubout) "$src/pub-0x0103.pem"
    # Shares of the wrap key with its attributes, as yubihsm-setup makes them: 2 of 3.
    # yubihsm-shell's `all` sets all 64 capability bits (key 0x0003 has them), yhsm's `all`
    # only the named ones: the shares must delegate every bit, as the wrap key put above does.
    "$yhsm" shares split -t 2 -n 3 --wrap-key-file "$keys/wrap256.bin" --id 2 --domains all \
        --capabilities $WRAP_ALL_CAPS --delegated 0xffffffffffffffff >"$src/shares-all.txt"
    sed -n '1p;3p' "$src/shares-all.txt" >"$src/shares.txt"
    [ "$(wc -l <"$src/shares.txt")" = 2 ]
}
# verify_objects URL KEY PW WHAT: the objects on the device at URL, seen with yubihsm-shell
# as authentication key KEY, are the source's: infos, public keys, signatures (openssl
# verifies them with the source's public keys), HMAC and AES results (openssl computes
# them with the known keys), the certificate. WHAT is one of infos, public-keys,
# signatures, hmac, aes, opaque.
verify_objects() {
    local u=$1 k=$2 p=$3 what=$4 o id type
    case $what in
    infos)
        local got
        for o in "${backup_objects[@]}"; do
            id=${o%%|*} type=${o#*|}
            got=$(object_info "$u" "$k" "$p" "$id" "$type") || { echo "$id: $(tail -n 2 "$work/y.all")"; return 1; }
            [ -n "$got" ] && [ "$got" = "$(cat "$src/info-$id")" ] ||
                { echo "$id: '$got', source: '$(cat "$src/info-$id")'"; return 1; }
        done ;;
    public-keys)
        for id in 0x0100 0x0101 0x0102 0x0103; do
            need ysh "$u" "$k" "$p" -a get-public-key -i $id --out "$work/pub.pem"
            cmp -s "$work/pub.pem" "$src/pub-$id.pem" || { echo "$id: public key differs"; return 1; }
        done ;;
    signatures)
        for o in 0x0100:ecdsa-sha256:sha256 0x0101:ecdsa-sha384:sha384 0x0102:rsa-pkcs1-sha256:sha256; do
            id=${o%%:*}
            o=${o#*:}
            case ${o%%:*} in ecdsa*) need ysh "$u" "$k" "$p" -a sign-ecdsa -i "$id" -A "${o%%:*}" --in "$keys/data" --informat binary --outformat binary --out "$work/sig" ;;
            *) need ysh "$u" "$k" "$p" -a sign-pkcs1v15 -i "$id" -A "${o%%:*}" --in "$keys/data" --informat binary --outformat binary --out "$work/sig" ;;
            esac
            openssl dgst -"${o#*:}" -verify "$src/pub-$id.pem" -signature "$work/sig" "$keys/data" >/dev/null ||
                { echo "$id: openssl does not verify the ${o%%:*} signature"; return 1; }
        done
        need ysh "$u" "$k" "$p" -a sign-eddsa -i 0x0103 -A ed25519 --in "$keys/data" --informat binary --outformat binary --out "$work/sig"
        openssl pkeyutl -verify -pubin -inkey "$src/pub-0x0103.pem" -rawin -in "$keys/data" -sigfile "$work/sig" >/dev/null ||
            { echo "0x0103: openssl does not verify the ed25519 signature"; return 1; } ;;
    hmac)
        printf 'hmac 0 0x0200 %s\n' "$(xxd -p -c 1000 "$keys/data")" | ysh_i "$u" "$k" "$p"
        has "^$(openssl mac -digest SHA256 -macopt hexkey:"$(cat "$keys/hmac.hex")" -in "$keys/data" HMAC | tr 'A-F' 'a-f')$" ;;
    aes)
        need ysh "$u" "$k" "$p" -a encrypt-aesecb -i 0x0300 --in "$keys/block" --informat binary --outformat hex
        [ "$(tr -d '\n' <"$work/y.out")" = "$(openssl enc -aes-128-ecb -K "$(cat "$keys/aes128.hex")" -nopad -in "$keys/block" | xxd -p)" ] ||
            { echo "AES-ECB: device $(cat "$work/y.out"), openssl differs"; return 1; } ;;
    opaque)
        need ysh "$u" "$k" "$p" -a get-opaque -i 0x0400 --outformat binary --out "$work/opaque.der"
        cmp -s "$work/opaque.der" "$keys/cert.der" || { echo "the certificate differs"; return 1; } ;;
    esac
}
restore_run() {
    local rc=0
    "$yhsm" -c "$url" --password-file "$work/password.txt" restore "$src/backup" --wrap-key-id 2 \
        --shares-file "$src/shares.txt" >"$work/restore.out" 2>&1 || rc=$?
    [ $rc = 0 ] && grep -q '^Preflight: 8 of 8 files decrypt under wrap key 0x0002$' "$work/restore.out" &&
        grep -q '^Previous authentication key 0x0001 deleted$' "$work/restore.out" &&
        grep -q '^All done$' "$work/restore.out" &&
        grep -q '^Authentication key left to log in with: 0x0003 ' "$work/restore.out" ||
        { echo "exit $rc: $(tail -n 4 "$work/restore.out")"; return 1; }
}
restore_factory_key_gone() {
    ! y1 -a get-pseudo-random || { echo "key 1 still opens a session"; return 1; }
    need ysh "$url" 3 "$ADMIN_PW" -a list-objects
    [ "$(grep -c '^id: ' "$work/y.out")" = 9 ] || { cat "$work/y.out"; return 1; }
    need ysh "$url" 3 "$ADMIN_PW" -a get-object-info -i 0x0002 -t wrap-key
    has "type: wrap-key, algorithm: aes256-ccm-wrap, .* domains: 1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16, .*capabilities: export-wrapped:import-wrapped, delegated_capabilities: change-authentication-key"
}
dump=$work/dump
dump_run() {
    local rc=0 n
    "$yhsm" -c "$url" -k 3 --password-file "$work/admin-password.txt" dump "$dump" -w 2 \
        --include-seed >"$work/dump.out" 2>&1 || rc=$?
    n=$(find "$dump" -name '*.yhw' | wc -l)
    [ $rc = 0 ] && [ "$n" = 8 ] || { echo "exit $rc, $n files: $(tail -n 3 "$work/dump.out")"; return 1; }
    for o in "${backup_objects[@]}"; do
        [ -f "$dump/$(backup_file "${o%%|*}" "${o#*|}")" ] || { echo "no $(backup_file "${o%%|*}" "${o#*|}")"; return 1; }
    done
    # With --include-seed the ed25519 file carries the seed (decrypted with python).
    [[ $(python3 "$here/yhw-decrypt.py" "$keys/wrap256.bin" "$dump/$(backup_file 0x0103 asymmetric-key)") == *"$ed_seed"* ]] ||
        { echo "the ed25519 file lacks the seed"; return 1; }
}
dump_put_wrapped() {
    need y1 -a put-wrap-key -i 0x0002 -l backup-wrap -d all -c $WRAP_ALL_CAPS --delegated all --in "$keys/wrap256.hex"
    local o id type
    for o in "${backup_objects[@]}"; do
        id=${o%%|*} type=${o#*|}
        need y1 -a put-wrapped --wrap-id 0x0002 --in "$dump/$(backup_file "$id" "$type")"
        has "^Object imported as $id of type $type$"
    done
    # The authentication key from the dump opens a session with its password.
    ysh "$url" 3 "$ADMIN_PW" -a get-pseudo-random --count 8 || { echo "key 0x0003: $(cat "$work/y.all")"; return 1; }
}
if section backup; then
    start_sim source
    check restore/source-objects source_objects
    stop_sim
    start_sim restored
    check restore/run restore_run
    check restore/factory-key-deleted restore_factory_key_gone
    for w in infos public-keys signatures hmac aes opaque; do
        check restore/$w verify_objects "$url" 3 "$ADMIN_PW" $w
    done
    check dump/run dump_run
    stop_sim
    start_sim imported
    check dump/put-wrapped dump_put_wrapped
    for w in infos public-keys signatures hmac aes opaque; do
        check dump/$w verify_objects "$url" 1 password $w
    done
    stop_sim
fi

# =======================================================================================
# 6. yubihsm-wrap .yhw files of every kind: `yhsm inspect` shows their headers and public
#    keys (equal to openssl's), and the simulator imports them (yubihsm-shell put-wrapped);
# 7. `yhsm wrap` given the same inputs as yubihsm-wrap: the same plaintext once decrypted.
# =======================================================================================
kinds=$work/kinds
mkdir -p "$kinds"
# ALG|openssl genpkey options, for the asymmetric keys.
asym_kinds=(
    "rsa2048|-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
    "rsa3072|-algorithm RSA -pkeyopt rsa_keygen_bits:3072"
    "rsa4096|-algorithm RSA -pkeyopt rsa_keygen_bits:4096"
    "ecp224|-algorithm EC -pkeyopt ec_paramgen_curve:secp224r1"
    "ecp256|-algorithm EC -pkeyopt ec_paramgen_curve:prime256v1"
    "ecp384|-algorithm EC -pkeyopt ec_paramgen_curve:secp384r1"
    "ecp521|-algorithm EC -pkeyopt ec_paramgen_curve:secp521r1"
    "eck256|-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1"
    "ecbp256|-algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1"
    "ecbp384|-algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP384r1"
    "ecbp512|-algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP512r1"
    "ed25519|-algorithm ed25519"
)
# ALG|input bytes (openssl rand N, or a file made below)|capabilities|delegated
other_kinds=(
    "aes128-yubico-authentication|password|export-wrapped,get-pseudo-random|sign-ecdsa,exportable-under-wrap"
    "aes128-ccm-wrap|16|export-wrapped,import-wrapped|sign-ecdsa,exportable-under-wrap"
    "aes192-ccm-wrap|24|export-wrapped,import-wrapped|sign-ecdsa"
    "aes256-ccm-wrap|32|wrap-data,unwrap-data|exportable-under-wrap"
    "aes128|16|encrypt-ecb,decrypt-ecb|"
    "aes192|24|encrypt-cbc,decrypt-cbc|"
    "aes256|32|encrypt-ecb,encrypt-cbc,exportable-under-wrap|"
    "hmac-sha1|20|sign-hmac,verify-hmac|"
    "hmac-sha256|32|sign-hmac|"
    "hmac-sha384|48|verify-hmac,exportable-under-wrap|"
    "hmac-sha512|64|sign-hmac,verify-hmac|"
    "opaque-data|100|exportable-under-wrap|"
    "opaque-x509-certificate|cert|exportable-under-wrap|"
    "template-ssh|template|sign-ssh-certificate|"
    "aes128-yubico-otp|20|decrypt-otp,create-otp-aead|"
    "aes192-yubico-otp|28|decrypt-otp|"
    "aes256-yubico-otp|36|randomize-otp-aead,rewrap-from-otp-aead-key|"
)
# yhsm wrap makes no OTP AEAD keys (see tests/INTEROP.md).
yhsm_wrap_skips=" aes128-yubico-otp aes192-yubico-otp aes256-yubico-otp "
printf 'an authentication password\n' >"$kinds/password"
cp "$keys/cert.der" "$kinds/cert"
# An SSH template as yubihsm-shell's put-template takes it (opaque bytes to the device).
openssl rand 64 >"$kinds/template"
# The wrap key of kind number N: the three sizes in turn.
wrap_of() { case $(($1 % 3)) in 0) echo 256 ;; 1) echo 128 ;; 2) echo 192 ;; esac; }
# Caps for the asymmetric kinds.
asym_caps() { case $1 in rsa*) echo sign-pkcs,decrypt-oaep,exportable-under-wrap ;; ed25519) echo sign-eddsa ;; *) echo sign-ecdsa,derive-ecdh ;; esac; }
type_of() {
    case $1 in
    rsa* | ec* | ed25519) echo asymmetric-key ;;
    hmac-*) echo hmac-key ;;
    *-ccm-wrap) echo wrap-key ;;
    *-yubico-authentication) echo authentication-key ;;
    *-yubico-otp) echo otp-aead-key ;;
    opaque-*) echo opaque ;;
    template-*) echo template ;;
    aes*) echo symmetric-key ;;
    esac
}
sorted_list() { tr ',:' '\n\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ',' | sed 's/,$//'; }

kind_list=()
n=0
if section kinds; then
    for k in "${asym_kinds[@]}"; do
        alg=${k%%|*}
        # shellcheck disable=SC2086 # the genpkey options are separate words
        openssl genpkey ${k#*|} -out "$kinds/$alg.in" 2>/dev/null
        kind_list+=("$alg|$(asym_caps "$alg")||$n")
        n=$((n + 1))
    done
    for k in "${other_kinds[@]}"; do
        IFS='|' read -r alg input caps delegated <<<"$k"
        case $input in
        [0-9]*) openssl rand "$input" >"$kinds/$alg.in" ;;
        *) cp "$kinds/$input" "$kinds/$alg.in" ;;
        esac
        kind_list+=("$alg|$caps|$delegated|$n")
        n=$((n + 1))
    done
fi
# kind_args ALG CAPS DELEGATED N: the options both tools take (short forms both know).
kind_args() {
    local id
    id=$(printf '0x%04x' $((0x0500 + $4)))
    echo "-a $1 -i $id -l kind-$1 -d 1,$(($4 % 16 + 1)) -c $2${3:+ -e $3} --in $kinds/$1.in"
}
inspect_kind() {
    local alg=$1 caps=$2 delegated=$3 n=$4 s type
    s=$(wrap_of "$n")
    # shellcheck disable=SC2046 # the options are separate words (no spaces inside)
    vendor "$prefix/bin/yubihsm-wrap" $(kind_args "$@") -k "$keys/wrap$s.bin" --out "$kinds/$alg.vendor.yhw" \
        >"$work/y.all" 2>&1 || { echo "yubihsm-wrap failed: $(cat "$work/y.all")"; return 1; }
    "$yhsm" inspect --wrap-key-file "$keys/wrap$s.bin" "$kinds/$alg.vendor.yhw" >"$work/inspect.txt" 2>&1 ||
        { echo "yhsm inspect failed: $(cat "$work/inspect.txt")"; return 1; }
    "$yhsm" inspect --wrap-key-file "$keys/wrap$s.bin" --json "$kinds/$alg.vendor.yhw" >"$work/inspect.json"
    field() { sed -n "s/^  $1: *//p" "$work/inspect.txt"; }
    local bad=
    [ "$(field 'wrap algorithm')" = "aes$s-ccm-wrap" ] || bad="$bad wrap-algorithm=$(field 'wrap algorithm')"
    [ "$(field id)" = "$(printf '0x%04x' $((0x0500 + n)))" ] || bad="$bad id=$(field id)"
    [ "$(field algorithm)" = "$alg" ] || bad="$bad algorithm=$(field algorithm)"
    [ "$(field label)" = "\"kind-$alg\"" ] || bad="$bad label=$(field label)"
    [ "$(field domains)" = "$(sorted_list "1,$((n % 16 + 1))" | tr ',' '\n' | sort -n | uniq | tr '\n' ':' | sed 's/:$//')" ] ||
        bad="$bad domains=$(field domains)"
    [ "$(sorted_list "$(field capabilities)")" = "$(sorted_list "$caps")" ] || bad="$bad capabilities=$(field capabilities)"
    if [ -n "$delegated" ]; then
        [ "$(sorted_list "$(field delegated)")" = "$(sorted_list "$delegated")" ] || bad="$bad delegated=$(field delegated)"
    fi
    [ "$(field origin)" = imported ] || bad="$bad origin=$(field origin)"
    # The header fields against the decrypted plaintext (docs/PROTOCOL.md §5.3): the
    # capabilities are bytes 1..8 (hex digits 2..17), the body length bytes 11..12.
    local plain
    plain=$(python3 "$here/yhw-decrypt.py" "$keys/wrap$s.bin" "$kinds/$alg.vendor.yhw")
    [ "$(jq -r '.[0].capabilities' "$work/inspect.json")" = "0x${plain:2:16}" ] || bad="$bad capabilities-hex"
    [ "$(jq -r '.[0].length' "$work/inspect.json")" = "$((16#${plain:22:4}))" ] || bad="$bad length"
    [ "$(field type)" = "$(type_of "$alg")" ] || bad="$bad type=$(field type)"
    if [ "$(type_of "$alg")" = asymmetric-key ]; then
        local want
        want=$(raw_pubkey "$kinds/$alg.in" "$alg")
        [ -n "$want" ] && [ "$(jq -r '.[0].public_key' "$work/inspect.json")" = "$want" ] ||
            bad="$bad public-key=$(jq -r '.[0].public_key' "$work/inspect.json" | cut -c1-32)…(openssl: ${want:0:32}…)"
    fi
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}
import_kind() {
    local alg=$1 n=$4 id
    id=$(printf '0x%04x' $((0x0500 + n)))
    need y1 -a put-wrapped --wrap-id "0x001$(($(wrap_of "$n") / 64))" --in "$kinds/$alg.vendor.yhw"
    has "^Object imported as $id of type "
    need y1 -a get-object-info -i "$id" -t "$(type_of "$alg")"
    has "algorithm: $alg, label: \"kind-$alg\""
    if [ "$(type_of "$alg")" = asymmetric-key ]; then
        need y1 -a get-public-key -i "$id" --out "$work/pub.pem"
        cmp -s "$work/pub.pem" <(openssl pkey -in "$kinds/$alg.in" -pubout) ||
            { echo "the device's public key is not openssl's"; return 1; }
    fi
}
wrap_kind() {
    local alg=$1 n=$4 s a b
    s=$(wrap_of "$n")
    # shellcheck disable=SC2046 # the options are separate words (no spaces inside)
    "$yhsm" wrap --wrap-key-file "$keys/wrap$s.bin" $(kind_args "$@") --out "$kinds/$alg.yhsm.yhw" \
        >"$work/y.all" 2>&1 || { echo "yhsm wrap failed: $(cat "$work/y.all")"; return 1; }
    a=$(python3 "$here/yhw-decrypt.py" "$keys/wrap$s.bin" "$kinds/$alg.vendor.yhw")
    b=$(python3 "$here/yhw-decrypt.py" "$keys/wrap$s.bin" "$kinds/$alg.yhsm.yhw")
    [ "$a" = "$b" ] || {
        echo "plaintexts differ (${#a} and ${#b} hex digits) from byte $(($(cmp <(echo "$a") <(echo "$b") | sed -n 's/.*byte \([0-9]*\).*/\1/p') / 2)): yubihsm-wrap ${a:0:160}… yhsm ${b:0:160}…"
        return 1
    }
}
if section kinds; then
    start_sim kinds
    # Wrap keys 0x0012 (AES-128), 0x0013 (AES-192), 0x0014 (AES-256): 0x001 and size/64.
    y1 -a put-wrap-key -i 0x0012 -l w128 -d all -c import-wrapped --delegated all --in "$keys/wrap128.hex" &&
        y1 -a put-wrap-key -i 0x0013 -l w192 -d all -c import-wrapped --delegated all --in "$keys/wrap192.hex" &&
        y1 -a put-wrap-key -i 0x0014 -l w256 -d all -c import-wrapped --delegated all --in "$keys/wrap256.hex" ||
        log "cannot store the wrap keys: $(cat "$work/y.all")"
    for k in "${kind_list[@]}"; do
        IFS='|' read -r alg caps delegated n <<<"$k"
        check "inspect/$alg" inspect_kind "$alg" "$caps" "$delegated" "$n"
        check "import/$alg" import_kind "$alg" "$caps" "$delegated" "$n"
        case $yhsm_wrap_skips in *" $alg "*) continue ;; esac
        check "wrap/$alg" wrap_kind "$alg" "$caps" "$delegated" "$n"
    done
    stop_sim
fi

t_end=$(date +%s)
log "build and setup $((t_built - t_start)) s, checks $((t_end - t_built)) s"
log "done: $passed passed, $failed failed"
echo "libyubihsm: $passed passed, $failed failed"
[ "$failed" = 0 ]
