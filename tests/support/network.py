"""Loopback ports for the servers tests start, which nothing else can be handed meanwhile.

A port the kernel picks (bind to 0) comes from the ephemeral range, the same range every
outgoing connection draws from: between picking it and the server binding it, a database client
or another server can take it ("bind(): Address already in use"). So test ports come from a
window below that range, where the kernel never puts a client socket on its own, and each is
claimed with a lock file that every test run on this machine respects while its process lives.
"""

from __future__ import annotations

import fcntl
import random
import socket
import tempfile
from pathlib import Path
from typing import IO

# Below Linux's default ephemeral range (32768-60999) and clear of the ports the test cluster
# fixes (etcd 2379, apiserver 6443, kubelet 10248-10259, NodePorts 30000-30100).
WINDOW = range(20000, 30000)
LOCK_DIR = Path(tempfile.gettempdir()) / "placedock-test-ports"
_held: dict[int, IO[str]] = {}  # port -> its open, locked file: released when the process ends
_random = random.Random()  # seeded once per process (from the OS), so processes start apart


def _ephemeral_range() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return range(32768, 61000)
    return range(low, high + 1)


def _claim(port: int) -> bool:
    """Lock ``port`` for this process if no other test process holds it and nothing listens."""
    if port in _held:
        return False
    LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
    lock = open(LOCK_DIR / str(port), "w")  # noqa: SIM115 (kept open: the lock is the file's)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return False
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as error:
                if family == socket.AF_INET6 and error.errno == 99:  # no ::1 on this machine
                    continue
                lock.close()
                return False
    _held[port] = lock
    return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports, all claimed for this test process."""
    ephemeral = _ephemeral_range()
    window = [port for port in WINDOW if port not in ephemeral]
    assert len(window) > count, f"the ephemeral range {ephemeral} covers the test port window"
    for _ in range(1000):
        first = window[_random.randrange(len(window) - count)]
        claimed: list[int] = []
        for port in range(first, first + count):
            if not _claim(port):
                break
            claimed.append(port)
        if len(claimed) == count:
            return first
        for port in claimed:
            _held.pop(port).close()
    raise AssertionError(f"no {count} consecutive free ports in {WINDOW}")


def free_port() -> int:
    """A port on 127.0.0.1 (and ::1) for one server, claimed for this test process."""
    return free_ports(1)
