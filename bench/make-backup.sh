#!/bin/sh
# Makes the restore benchmark's backup: COUNT .yhw files (default 254) in OUT, written by
# `yhsm wrap` under the demo wrap key of examples/keys/, plus its shares (2 of 3) and the
# login password. 254 wrapped objects, the wrap key and the login key fill a YubiHSM 2's
# 256 object slots. Objects cycle through opaque data (96 bytes), EC P-256, ed25519 and
# HMAC-SHA256 keys, ids 0x0100 upwards, all in domain 1, one storage page each.
#
# DEMO SECRETS: every key here is public.
#
# Usage: YHSM=target/release/yhsm bench/make-backup.sh OUT [COUNT]
set -eu

out=$1
count=${2:-254}
here=$(cd "$(dirname "$0")" && pwd)
keys="$here/../examples/keys"
: "${YHSM:=$here/../target/release/yhsm}"

# The same attributes go to bench/peers/python_restore.py (see bench/run.sh).
wrap_id=0x0002
wrap_capabilities=export-wrapped,import-wrapped
wrap_delegated=get-opaque,sign-ecdsa,sign-eddsa,sign-hmac,verify-hmac,exportable-under-wrap

rm -rf "$out"
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

i=0
while [ "$i" -lt "$count" ]; do
    id=$(printf '0x%04x' $((0x0100 + i)))
    case $((i % 4)) in
        0) head -c 96 /dev/urandom >"$scratch/in"
           set -- -a opaque-data -c get-opaque,exportable-under-wrap --in "$scratch/in"
           kind=opaque ;;
        1) set -- -a ecp256 -c sign-ecdsa,exportable-under-wrap --in "$keys/ecp256.pem"
           kind=asymmetric-key ;;
        2) set -- -a ed25519 -c sign-eddsa,exportable-under-wrap --in "$keys/ed25519.pem"
           kind=asymmetric-key ;;
        3) head -c 32 /dev/urandom >"$scratch/in"
           set -- -a hmac-sha256 -c sign-hmac,verify-hmac,exportable-under-wrap --in "$scratch/in"
           kind=hmac-key ;;
    esac
    "$YHSM" wrap --wrap-key-file "$keys/wrap-key.hex" -i "$id" -l "bench $id" -d 1 "$@" \
        --out "$out/$id-$kind.yhw" >/dev/null
    i=$((i + 1))
done

"$YHSM" shares split -t 2 -n 3 --wrap-key-file "$keys/wrap-key.hex" --id "$wrap_id" \
    --domains 1 --capabilities "$wrap_capabilities" --delegated "$wrap_delegated" \
    >"$out/shares.txt"
echo password >"$out/password.txt"
