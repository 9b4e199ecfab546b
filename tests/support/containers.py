"""Containers of the placedock image for tests: started, waited for, read, removed."""

from __future__ import annotations

import time

from tests.support.docker_engine import docker
from tests.support.server import get

IMAGE = "placedock"
NOAUTH = ["-e", "OS_API__AUTH_STRATEGY=noauth2", "-e", "DB_SYNC=True"]


class Containers:
    """Containers this test started, removed at the end by their ids."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def run(self, *args: str) -> str:
        result = docker("run", "-d", *args, timeout=120)
        assert result.returncode == 0, result.stderr
        self.ids.append(result.stdout.strip())
        return self.ids[-1]

    def remove_all(self) -> None:
        for container in self.ids:
            docker("rm", "-f", "-v", container)


def wait_http(url: str, timeout: float = 60, container: str | None = None) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if get(url, timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    logs = docker("logs", container).stdout + docker("logs", container).stderr if container else ""
    raise AssertionError(f"{url} never answered 200:\n{logs[-3000:]}")


def logs(container: str) -> str:
    result = docker("logs", container)
    return result.stdout + result.stderr


def inspect(container: str, template: str) -> str:
    return docker("inspect", "--format", template, container).stdout.strip()


