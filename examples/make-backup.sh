#!/bin/sh
# Makes examples/backup/ with yhsm's own offline tools: `yhsm wrap` for each object and
# `yhsm shares split` for the wrap key. The inputs are the demo keys in examples/keys/
# (kept out of the backup directory, as real private keys would be). Every run gives new
# nonces and new shares, so the committed backup is one run's output.
#
# DEMO SECRETS: every key here is public. Never restore this backup onto a YubiHSM that
# holds or will hold real keys.
#
# Usage: examples/make-backup.sh          (from anywhere; YHSM=path/to/yhsm to skip cargo)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
keys="$here/keys"
out="$here/backup"

if [ -z "${YHSM:-}" ]; then
    cargo build --quiet -p yhsm --manifest-path "$here/../Cargo.toml"
    YHSM="$here/../target/debug/yhsm"
fi

# The wrap key 0x0002 and what it lets objects keep: every object's capabilities must be
# among its delegated capabilities, or the device refuses the import.
wrap_id=0x0002
wrap_domains=1
wrap_capabilities=export-wrapped,import-wrapped
wrap_delegated=sign-ecdsa,sign-eddsa,get-opaque,get-log-entries,export-wrapped,import-wrapped,exportable-under-wrap

wrap() {
    "$YHSM" wrap --wrap-key-file "$keys/wrap-key.hex" --force "$@"
}

mkdir -p "$out"
rm -f "$out"/*.yhw

# 0x0003: the application's authentication key. After a restore it replaces the factory
# key: it signs with 0x0100 and 0x0101, reads the certificate, and can take and restore
# backups.
wrap -a aes128-yubico-authentication -i 0x0003 -l application -d 1 \
    -c sign-ecdsa,sign-eddsa,get-opaque,export-wrapped,import-wrapped,exportable-under-wrap \
    -e sign-ecdsa,sign-eddsa,get-opaque,exportable-under-wrap \
    --in "$keys/application-password.txt" --out "$out/0x0003-authentication-key.yhw"

# 0x0004: an auditor's key, which reads the audit log and nothing else.
wrap -a aes128-yubico-authentication -i 0x0004 -l audit -d 1 \
    -c get-log-entries,exportable-under-wrap -e none \
    --in "$keys/audit-password.txt" --out "$out/0x0004-authentication-key.yhw"

# 0x0100: an EC P-256 signing key; 0x0101: an ed25519 signing key.
wrap -a ecp256 -i 0x0100 -l 'signing key' -d 1 -c sign-ecdsa,exportable-under-wrap \
    --in "$keys/ecp256.pem" --out "$out/0x0100-asymmetric-key.yhw"
wrap -a ed25519 -i 0x0101 -l 'ed25519 signing key' -d 1 -c sign-eddsa,exportable-under-wrap \
    --in "$keys/ed25519.pem" --out "$out/0x0101-asymmetric-key.yhw"

# 0x0200: the X.509 certificate of the P-256 key, as opaque data.
wrap -a opaque-x509-certificate -i 0x0200 -l 'signing certificate' -d 1 \
    -c get-opaque,exportable-under-wrap \
    --in "$keys/certificate.der" --out "$out/0x0200-opaque.yhw"

{
    echo "# Shares of the demo wrap key 0x0002 (yubihsm-setup format, any 2 of 3)."
    echo "# DEMO SECRETS, public: never use them for real keys."
    "$YHSM" shares split -t 2 -n 3 --wrap-key-file "$keys/wrap-key.hex" --id "$wrap_id" \
        --domains "$wrap_domains" --capabilities "$wrap_capabilities" \
        --delegated "$wrap_delegated"
} > "$out/shares.txt"

# The wrap key's description (cli/README.md "The wrap-key description"), as yhsm writes
# one when it makes the shares: the wrap key's attributes, its key check value and each
# share's check value, read back from the shares just made. Not secret; restore checks
# every share and the key against it.
combined=$("$YHSM" shares combine --shares-file "$out/shares.txt")
field() { printf '%s\n' "$combined" | sed -n "s/^$1: *//p"; }
{
    echo "yhsm wrap-key description 1"
    echo "# The wrap key the .yhw files of this directory are wrapped under. Not secret:"
    echo "# yhsm restore checks the wrap key from the shares against it before writing."
    echo "id: $wrap_id"
    echo "algorithm: $(field algorithm)"
    echo 'label: "Wrap key"'
    echo "domains: $(field domains)"
    echo "capabilities: $(field capabilities)"
    echo "delegated: $(field delegated)"
    echo "kcv: $(field 'key check value')"
    echo "shares: 2 of 3"
    field 'share checks' | tr ',' '\n' | sed 's/^ *\([0-9]\) /share \1: /'
} > "$out/0x0002-wrap-key.description"

# The password of the factory authentication key 0x0001 (and of the built-in simulator).
echo password > "$out/password.txt"

echo "Wrote $out"
