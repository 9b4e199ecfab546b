"""Containers of the placedock image for tests: started, waited for, read, removed."""

from __future__ import annotations

from tests.support import http
from tests.support.docker_engine import docker
from tests.support.processes import wait_until
from tests.support.server import QUICK_START

IMAGE = "placedock"


def env_options(env: dict[str, str]) -> list[str]:
    """``docker run`` options that set ``env`` in the container."""
    return [option for key, value in env.items() for option in ("-e", f"{key}={value}")]


QUICK_START_OPTIONS = env_options(QUICK_START)


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
    """Seconds until ``url`` answers 200; NotReady with the container's log if it never does."""
    return http.wait_for(url, timeout=timeout,
                         log=(lambda: logs(container)[-3000:]) if container else None)


def wait_health(container: str, wanted: str = "healthy", timeout: float = 60) -> float:
    """Seconds until the engine reports the container's health check as ``wanted``."""
    return wait_until(lambda: inspect(container, "{{.State.Health.Status}}") == wanted, timeout,
                      interval=0.5, what=f"health {wanted}", log=lambda: logs(container)[-3000:])


def logs(container: str) -> str:
    result = docker("logs", container)
    return result.stdout + result.stderr


def inspect(container: str, template: str) -> str:
    return docker("inspect", "--format", template, container).stdout.strip()
