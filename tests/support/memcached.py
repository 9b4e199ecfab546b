"""Debian's memcached on 127.0.0.1 for tests (keystone's token cache in placement's
authtoken middleware), stopped by its own PID.

    memcached = MemcachedServer(workdir / "memcached")
    memcached.start()                      # memcached.servers == "127.0.0.1:PORT"
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket

from tests.support.processes import ServerProcess, clean_environment


class MemcachedServer(ServerProcess):
    """Debian's memcached on 127.0.0.1 (TCP only, no UDP)."""

    kind = "memcached"
    binary = "memcached"  # Debian's package, found on PATH

    @property
    def servers(self) -> str:
        """The value for [keystone_authtoken]memcached_servers."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> float:
        if self.running:
            return 0.0
        binary = shutil.which(self.binary)
        if binary is None:
            raise RuntimeError("memcached is not installed (apt-get install memcached)")
        command = [binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "32"]
        if os.geteuid() == 0:
            command += ["-u", pwd.getpwuid(0).pw_name]  # memcached refuses root without -u
        self.spawn(command, clean_environment(), cwd=self.workdir)
        return self.wait_until_ready(self._answers, timeout)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"version\r\n")
                return sock.recv(64).startswith(b"VERSION")
        except OSError:
            return False
