"""placedock's image as a benchmarked server (and as the host of the in-process limit): the same
measurements as natively.

The container shares the host's network (it reaches the benchmark's PostgreSQL on 127.0.0.1 and
serves on a port of the benchmark's choosing, with no userland proxy in between) and its
processes are the host's: the uwsgi master is the container's first process, and its PID on the
host roots the tree whose CPU time and PSS are read, as for a native server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Self

from benchmark.support import processes
from benchmark.throughput.inprocess import REPO, Workers
from tests.support.containers import env_options
from tests.support.docker_engine import DOCKER, docker
from tests.support.processes import Process

# What a container is given from the benchmark's environment: placement's and placedock's own
# settings. Not PLACEDOCK_DATA_DIR: a host path; the image has its own data folder.
PASSED_PREFIXES = ("OS_", "PLACEDOCK_", "DB_SYNC", "MALLOC_")
NOT_PASSED = {"PLACEDOCK_DATA_DIR"}
BENCHMARK_IN_IMAGE = "/opt/placedock-benchmark"  # where this package is mounted for the limit
# The Docker engine's processes, by name (processes.pids_named).
ENGINE_COMMANDS = {"dockerd", "containerd", "containerd-shim"}


def passed(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items()
            if key.startswith(PASSED_PREFIXES) and key not in NOT_PASSED}


def host_pid(name: str) -> int:
    """The host's PID of a running container's first process (0 when it is not running)."""
    return int(docker("inspect", "--format", "{{.State.Pid}}", name).stdout.strip() or 0)


def engine_pids() -> list[int]:
    """The Docker engine's processes: dockerd, containerd and the containers' shims. They carry
    a container's output to its log (placement writes a line per request), work that running the
    image costs: a measurement of the image counts it as the benchmark's own, not as other
    programs' (it was a fifth of the machine's CPU under `GET /` load)."""
    return processes.pids_named(ENGINE_COMMANDS)


def _docker_run(name: str, env: dict[str, str]) -> list[str]:
    return [DOCKER, "run", "--rm", "--name", name, "--network", "host",
            *env_options(passed(env))]


class ContainerServer(Process):
    """`docker run` in the foreground (its output is the log); `pid` is the server's on the
    host, not the client's."""

    kind = "docker run"

    def __init__(self, image: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(log_path)  # stopped with SIGTERM, which the client passes on
        self.name = f"placedock-benchmark-{secrets.token_hex(4)}"
        self.command = [*_docker_run(self.name, env), image]
        self.env = env
        self._server_pid = 0

    def start(self) -> Self:
        return self.spawn(self.command, self.env)

    @property
    def pid(self) -> int:
        if not self._server_pid:
            self._server_pid = host_pid(self.name)
        return self._server_pid

    def stop(self, timeout: float = 60) -> None:
        """The client passes SIGTERM on to the container; remove it if anything is left."""
        super().stop(timeout)
        docker("rm", "-f", self.name)


class ContainerWorkers(Workers):
    """The in-process limit inside the image, on its Python: benchmark.throughput.inprocess from
    this checkout (and the test support it imports), mounted read-only; `pids` is the leader's on
    the host (its workers are below)."""

    def __init__(self, image: str, count: int, env: dict[str, str], log_path: Path) -> None:
        super().__init__(count, env, log_path)
        self.image = image
        self.name = f"placedock-benchmark-limit-{secrets.token_hex(4)}"
        self._leader = 0

    def command(self) -> list[str]:
        return [*_docker_run(self.name, self.env), "--interactive",
                "--volume", f"{REPO / 'benchmark'}:{BENCHMARK_IN_IMAGE}/benchmark:ro",
                # benchmark.throughput.inprocess runs its leader through tests.support.processes
                "--volume", f"{REPO / 'tests'}:{BENCHMARK_IN_IMAGE}/tests:ro",
                "--env", f"PYTHONPATH={BENCHMARK_IN_IMAGE}:/opt/placedock",
                "--entrypoint", "python3", self.image, "-m", "benchmark.throughput.inprocess",
                str(self.count)]

    @property
    def pids(self) -> list[int]:
        if not self._leader and self.process.running:
            self._leader = host_pid(self.name)
        return [self._leader] if self._leader else []

    def stop(self) -> None:
        super().stop()
        docker("rm", "-f", self.name)
