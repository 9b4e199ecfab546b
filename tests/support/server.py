"""Run placedock's entrypoint (startup.sh) as a real process on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from placedock import health
from tests.support.network import free_port

REPO = Path(__file__).resolve().parents[2]
STARTUP = REPO / "startup.sh"


def base_environment() -> dict[str, str]:
    """A clean environment: the test venv first on PATH, nothing of the caller's OS_* leaking."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }


def run_startup(args: list[str], env: dict[str, str],
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """startup.sh run to completion: for commands and for starts that must fail."""
    return subprocess.run(
        [str(STARTUP), *args], env={**base_environment(), **env}, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def get(url: str, token: str | None = "admin", timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("x-auth-token", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Server:
    """startup.sh serving placement; stopped by its own PID only."""

    def __init__(self, workdir: Path, port: int, env: dict[str, str],
                 host: str = "127.0.0.1") -> None:
        """``host``: where the tests reach it (PLACEDOCK_ADDRESS, unless that is 0.0.0.0 or ::)."""
        self.workdir = workdir
        self.port = port
        self.host = host
        # Metrics on a port of this test's too: on the host, the default one is shared by all.
        self.env = {**base_environment(), "PLACEDOCK_ADDRESS": "127.0.0.1",
                    "PLACEDOCK_PORT": str(port), "PLACEDOCK_METRICS_PORT": str(free_port()),
                    **env}
        self.log_path = workdir / f"placedock-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"

    def start(self) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(STARTUP)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until /health/ready answers 200; fail with the log if it never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"placedock exited {self.process.returncode}:\n{self.log()}")
            try:
                if get(self.url + "/health/ready", timeout=2)[0] == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"placedock not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        """The uwsgi workers, as the master lists them on its stats socket (the metrics mule is
        a child of the master too, but no worker)."""
        stats = health.uwsgi_stats(self.env)
        assert isinstance(stats, dict), stats
        return [worker["pid"] for worker in stats["workers"] if worker["pid"] > 0]

    def children(self) -> list[int]:
        """Every child of the master: the workers and the metrics mule."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group we started, our own
            self.process.wait(timeout=5)
