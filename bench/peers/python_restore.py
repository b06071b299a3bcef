"""Benchmark peer: what a python-yubihsm user writes to restore a backup directory: put
the wrap key, import every .yhw file under it, list the objects. No shares (the wrap key
is read in hex) and no verification beyond the device's own checks.

Usage: python3 python_restore.py URL DIR WRAP_KEY_HEX_FILE WRAP_ID CAPABILITIES DELEGATED
(CAPABILITIES and DELEGATED as comma-separated names, e.g. export-wrapped,import-wrapped)
Prints `imported=<n> listed=<m>` on success.
"""

import base64
import pathlib
import sys

from yubihsm import YubiHsm
from yubihsm.defs import ALGORITHM, CAPABILITY
from yubihsm.objects import WrapKey


def capabilities(names: str) -> CAPABILITY:
    caps = CAPABILITY.NONE
    for name in filter(None, names.split(",")):
        caps |= CAPABILITY[name.strip().upper().replace("-", "_")]
    return caps


def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    url, directory, key_file, wrap_id, caps, delegated = sys.argv[1:]
    key = bytes.fromhex(pathlib.Path(key_file).read_text().strip())
    algorithm = {
        16: ALGORITHM.AES128_CCM_WRAP,
        24: ALGORITHM.AES192_CCM_WRAP,
        32: ALGORITHM.AES256_CCM_WRAP,
    }[len(key)]

    hsm = YubiHsm.connect(url)
    session = hsm.create_session_derived(1, "password")
    wrap_key = WrapKey.put(
        session,
        int(wrap_id, 0),
        "Wrap key",
        1,
        capabilities(caps),
        algorithm,
        capabilities(delegated),
        key,
    )
    files = sorted(pathlib.Path(directory).glob("*.yhw"))
    for path in files:
        wrap_key.import_wrapped(base64.b64decode(path.read_text()))
    listed = session.list_objects()
    session.close()
    hsm.close()
    print(f"imported={len(files)} listed={len(listed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
