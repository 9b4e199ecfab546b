"""Run placedock's entrypoint (startup.sh) as a real process on a loopback port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from placedock import health
from tests.support import http
from tests.support.network import free_port
from tests.support.processes import SYSTEM_PATH, Process, clean_environment

REPO = Path(__file__).resolve().parents[2]
STARTUP = REPO / "startup.sh"

# placement without keystone: noauth2 takes any token (it still wants one: http.TOKEN).
NOAUTH = {"OS_API__AUTH_STRATEGY": "noauth2"}
# The quick start's settings: noauth2, and the schema made at start, so a server on sqlite
# serves on its own.
QUICK_START = {**NOAUTH, "DB_SYNC": "True"}


def base_environment() -> dict[str, str]:
    """A clean environment with the test venv first on PATH (where startup.sh finds uwsgi)."""
    return clean_environment(path=f"{Path(sys.executable).parent}:{SYSTEM_PATH}")


def run_startup(args: list[str], env: dict[str, str],
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """startup.sh run to completion: for commands and for starts that must fail."""
    return subprocess.run(
        [str(STARTUP), *args], env={**base_environment(), **env}, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def run_in_checkout(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """A shell command line (a README's, say) run to completion at the repository's root."""
    return subprocess.run(["bash", "-c", command], cwd=REPO, env=base_environment(),
                          capture_output=True, text=True, timeout=timeout, check=False)


class Server(Process):
    """startup.sh serving placement; stopped by its own PID only."""

    kind = "placedock"

    def __init__(self, workdir: Path, port: int, env: dict[str, str],
                 host: str = "127.0.0.1") -> None:
        """``host``: where the tests reach it (PLACEDOCK_ADDRESS, unless that is 0.0.0.0 or ::)."""
        super().__init__(workdir / f"placedock-{port}.log")
        self.workdir = workdir
        self.port = port
        self.host = host
        # Metrics on a port of this test's too: on the host, the default one is shared by all.
        self.env = {**base_environment(), "PLACEDOCK_ADDRESS": "127.0.0.1",
                    "PLACEDOCK_PORT": str(port), "PLACEDOCK_METRICS_PORT": str(free_port()),
                    **env}

    @property
    def url(self) -> str:
        return f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"

    def start(self) -> Server:
        self.log_path.unlink(missing_ok=True)  # one start, one log
        return self.spawn([str(STARTUP)], self.env)

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until /health/ready answers 200; NotReady with the log if it never does."""
        return http.wait_for(self.url + "/health/ready", timeout=timeout, process=self)

    def worker_pids(self) -> list[int]:
        """The uwsgi workers, as the master lists them on its stats socket (the metrics mule is
        a child of the master too, but no worker)."""
        stats = health.uwsgi_stats(self.env)
        assert isinstance(stats, dict), stats
        return [worker["pid"] for worker in stats["workers"] if worker["pid"] > 0]

    def children(self) -> list[int]:
        """Every child of the master: the workers and the metrics mule."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in children.read_text().split()]
