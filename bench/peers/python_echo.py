"""Benchmark peer: N authenticated ECHO commands of SIZE bytes in one session through
python-yubihsm's public API, timed from the first echo to the last.

Usage: python3 python_echo.py URL COUNT SIZE
Prints `echo_ns=<total> cpu_ns=<client thread cpu> count=<n> size=<bytes>` on success.
"""

import sys
import time

from yubihsm import YubiHsm
from yubihsm.defs import COMMAND


def thread_cpu_ns():
    """CPU time this thread has run, in ns (Linux: /proc/thread-self/schedstat)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: python_echo.py URL COUNT SIZE", file=sys.stderr)
        return 2
    url, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hsm = YubiHsm.connect(url)
    session = hsm.create_session_derived(1, "password")
    message = bytes(i % 251 for i in range(size))
    cpu_start = thread_cpu_ns()
    start = time.perf_counter_ns()
    for _ in range(count):
        if session.send_secure_cmd(COMMAND.ECHO, message) != message:
            print("echo answered different bytes", file=sys.stderr)
            return 1
    elapsed = time.perf_counter_ns() - start
    cpu_end = thread_cpu_ns()
    cpu = "-" if cpu_start is None or cpu_end is None else str(cpu_end - cpu_start)
    session.close()
    hsm.close()
    print(f"echo_ns={elapsed} cpu_ns={cpu} count={count} size={size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
