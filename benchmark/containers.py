"""placedock's image as a benchmarked server: the same measurements as a native server.

The container shares the host's network (it reaches the benchmark's PostgreSQL on 127.0.0.1 and
serves on a port of the benchmark's choosing, with no userland proxy in between) and its
processes are the host's: the uwsgi master is the container's first process, and its PID on the
host roots the tree whose CPU time and PSS are read, as for a native server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Self

from tests.support.containers import env_options
from tests.support.docker_engine import DOCKER, docker
from tests.support.processes import Process

# What a container is given from the benchmark's environment: placement's and placedock's own
# settings. Not PLACEDOCK_DATA_DIR: a host path; the image has its own data folder.
PASSED_PREFIXES = ("OS_", "PLACEDOCK_", "DB_SYNC", "MALLOC_")
NOT_PASSED = {"PLACEDOCK_DATA_DIR"}


def passed(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items()
            if key.startswith(PASSED_PREFIXES) and key not in NOT_PASSED}


class ContainerServer(Process):
    """`docker run` in the foreground (its output is the log); `pid` is the server's on the
    host, not the client's."""

    kind = "docker run"

    def __init__(self, image: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(log_path)  # stopped with SIGTERM, which the client passes on
        self.name = f"placedock-benchmark-{secrets.token_hex(4)}"
        self.command = [DOCKER, "run", "--rm", "--name", self.name, "--network", "host",
                        *env_options(passed(env)), image]
        self.env = env
        self._server_pid = 0

    def start(self) -> Self:
        return self.spawn(self.command, self.env)

    @property
    def pid(self) -> int:
        if not self._server_pid:
            found = docker("inspect", "--format", "{{.State.Pid}}", self.name).stdout.strip()
            self._server_pid = int(found or 0)
        return self._server_pid

    def stop(self, timeout: float = 60) -> None:
        """The client passes SIGTERM on to the container; remove it if anything is left."""
        super().stop(timeout)
        docker("rm", "-f", self.name)
