#!/usr/bin/env python3
"""Decrypts a wrapped object (a .yhw file, or a yubihsm-shell get-wrapped file) with its
wrap key, independently of yhsm, and prints the plaintext in hex on one line.

Usage: yhw-decrypt.py WRAPKEY_FILE WRAPPED_FILE

WRAPKEY_FILE holds the AES key (16, 24 or 32 raw bytes); WRAPPED_FILE holds base64 of
nonce (13 bytes) || AES-CCM ciphertext || tag (16 bytes), as the device's EXPORT_WRAPPED
answers and yubihsm-wrap writes (docs/PROTOCOL.md §5.2). Uses the `cryptography` package's
AES-CCM, so the harness compares two tools' output through a third implementation.
"""

import base64
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESCCM


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    key_path, blob_path = sys.argv[1], sys.argv[2]
    with open(key_path, "rb") as f:
        key = f.read()
    if len(key) not in (16, 24, 32):
        print(f"{key_path}: {len(key)} bytes, not an AES key", file=sys.stderr)
        return 1
    with open(blob_path, "rb") as f:
        text = b"".join(f.read().split())
    try:
        blob = base64.b64decode(text, validate=True)
    except ValueError as e:
        print(f"{blob_path}: not base64 ({e})", file=sys.stderr)
        return 1
    if len(blob) < 13 + 16:
        print(f"{blob_path}: {len(blob)} bytes, too short", file=sys.stderr)
        return 1
    try:
        plain = AESCCM(key, tag_length=16).decrypt(blob[:13], blob[13:], None)
    except Exception:  # InvalidTag: the file is not wrapped under this key
        print(f"{blob_path}: does not decrypt under {key_path}", file=sys.stderr)
        return 1
    print(plain.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
