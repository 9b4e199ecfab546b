"""What every server the tests start has in common: stopping it by its PID, reading its log."""

from __future__ import annotations

import atexit
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.network import free_port


def stop(process: subprocess.Popen[bytes] | None, signum: int = signal.SIGTERM,
         timeout: float = 30) -> None:
    """Signal a process we started and wait for it; SIGKILL it if it will not go."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float = 60, interval: float = 0.02) -> float:
    """Seconds until ``condition()`` holds; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(interval)
    return time.monotonic() - started


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ServerProcess:
    """A long-running server we start: its workdir, its log, a port kept across restarts (so
    URLs stay valid while it is down) and the process itself, stopped by its PID only."""

    kind = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, workdir: Path, log_name: str) -> None:
        self.workdir = Path(workdir)
        self.log_path = self.workdir / log_name
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)  # a safety net if the session dies before its teardown

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 60) -> None:
        process, self._process = self._process, None
        stop(process, self.stop_signal, timeout)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)
