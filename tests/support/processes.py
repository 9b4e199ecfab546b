"""Processes the tests and the benchmark start: spawned in a session of their own with their
output in a log file, waited for until they are ready, read, and stopped by their own PID (their
process group only if they will not go)."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from tests.support.network import free_port

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


class NotReady(RuntimeError):
    """A wait ran out, or the process waited for exited first; the message ends with its log."""


def clean_environment(extra: dict[str, str] | None = None,
                      path: str = SYSTEM_PATH) -> dict[str, str]:
    """A child's environment with nothing of the caller's in it (no OS_* variable may reach an
    oslo.config), plus ``extra``."""
    return {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            **(extra or {})}


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(condition: Callable[[], bool], timeout: float = 60, interval: float = 0.02,
               what: str = "the condition", process: Process | None = None,
               since: float | None = None, log: Callable[[], str] | None = None) -> float:
    """Seconds from ``since`` (monotonic; default: now) until ``condition()`` holds.

    NotReady after ``timeout`` seconds, or as soon as ``process`` (the one expected to make the
    condition true) has exited; the message ends with its log tail, or with ``log()``. A process
    that never got ready is stopped.
    """
    called = time.monotonic()
    since = called if since is None else since
    while not condition():
        if process is not None and not process.running:
            code = process.returncode
            state = "is not running" if code is None else f"exited with {code}"
            raise NotReady(f"{process.kind} {state}, waiting for {what}:\n{process.log_tail()}")
        if time.monotonic() - called > timeout:
            tail = process.log_tail() if process is not None else log() if log else ""
            if process is not None:
                process.stop()
            raise NotReady(f"timed out after {timeout} s waiting for {what}\n{tail}")
        time.sleep(interval)
    return time.monotonic() - since


class Process:
    """One process we started, in a session (process group) of its own, its output appended to
    ``log_path``. Stopped by its PID with ``stop_signal``; if it will not go, its group (ours)
    is killed."""

    kind = "process"  # names it in messages
    stop_signal: int = signal.SIGTERM

    def __init__(self, log_path: Path, kind: str | None = None,
                 stop_signal: int | None = None) -> None:
        self.log_path = Path(log_path)
        if kind is not None:
            self.kind = kind
        if stop_signal is not None:
            self.stop_signal = stop_signal
        self.popen: subprocess.Popen[Any] | None = None
        self.started_at = 0.0  # monotonic, when spawned

    def spawn(self, command: list[str], env: dict[str, str] | None,
              cwd: Path | None = None, talk: bool = False, **options: Any) -> Self:
        """Start ``command``. ``talk``: its stdin and stdout are text pipes (``popen.stdin``,
        ``popen.stdout``) for a line protocol, and only stderr goes to the log. ``options`` go
        to Popen (user=, group= for a server run as another user)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.popen = subprocess.Popen(
                command, env=env, cwd=cwd, text=talk,
                stdin=subprocess.PIPE if talk else subprocess.DEVNULL,
                stdout=subprocess.PIPE if talk else log, stderr=log if talk else subprocess.STDOUT,
                start_new_session=True, **options)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.kind} not started"
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def wait_until_ready(self, ready: Callable[[], bool], timeout: float = 60,
                         interval: float = 0.05) -> float:
        """Seconds until ``ready()``; NotReady with the log if it exits or never is ready."""
        return wait_until(ready, timeout, interval, what=f"{self.kind} to be ready", process=self)

    def signal(self, signum: int) -> None:
        assert self.popen is not None, f"{self.kind} not started"
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Its exit status, once it has exited (TimeoutExpired after ``timeout``)."""
        assert self.popen is not None, f"{self.kind} not started"
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 60) -> None:
        """Signal our PID and wait; SIGKILL the process group we made for it if it lingers."""
        popen = self.popen
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(self.stop_signal)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)  # the session spawn() made: ours alone
            popen.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


class ServerProcess(Process):
    """A long-running server we start: its workdir, its log there, and a port kept across
    restarts (so URLs stay valid while it is down)."""

    kind = "server"

    def __init__(self, workdir: Path, log_name: str | None = None) -> None:
        self.workdir = Path(workdir)
        super().__init__(self.workdir / (log_name or f"{self.kind}.log"))
        self.port = free_port()
        atexit.register(self.stop)  # a safety net if the session dies before its teardown
