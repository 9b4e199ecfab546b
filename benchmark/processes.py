"""Processes the benchmark starts (stopped by their own PID), their memory, and the machine's
CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Self


class Process:
    """One server process we started in a session of its own, logging to a file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path,
                 stop_signal: int = signal.SIGINT) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def start(self) -> Process:
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.popen = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        return self

    def exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def log(self, tail: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def stop(self, timeout: float = 20) -> None:
        """Signal our PID; if it lingers, kill the process group we created for it."""
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(self.stop_signal)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)


def http_status(url: str, token: str | None = "admin", timeout: float = 5) -> int:
    """The status of a GET, 0 when no response came."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("x-auth-token", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def wait_for_200(url: str, started_at: float, process: Process | None = None,
                 timeout: float = 120, token: str | None = None) -> float:
    """Seconds from `started_at` (monotonic) to the first 200 on `url`, polling every 10 ms."""
    while time.monotonic() - started_at < timeout:
        if http_status(url, token=token, timeout=2) == 200:
            return time.monotonic() - started_at
        if process is not None and process.exited():
            raise RuntimeError(f"{process.command[0]} exited:\n{process.log()}")
        time.sleep(0.01)
    detail = process.log() if process is not None else ""
    raise RuntimeError(f"{url}: no 200 within {timeout} s\n{detail}")


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (uwsgi's master, workers, router)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += descendants(int(child))
    return found


def pss_bytes(pid: int) -> int:
    """Proportional set size of `pid` and its descendants (shared pages counted once in all)."""
    total = 0
    for member in descendants(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue  # exited meanwhile
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def cpu_times() -> tuple[int, int, int, int]:
    """Jiffies of the machine from /proc/stat: (busy, total, user + system + steal, steal)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, _irq, _softirq, steal = fields[:8]
    total = sum(fields[:8])
    return total - idle - iowait, total, user + nice + system + steal, steal


def jiffies(pids: list[int]) -> int:
    """CPU time (user + system, all threads) of these processes; 0 for any that has gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def tree_jiffies(roots: list[int]) -> int:
    """CPU time of these processes and of every process below them, as they are now: a server's
    master and workers (and any mule), or the in-process leader and its forked workers."""
    return jiffies([pid for root in roots for pid in descendants(root)])


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def own_jiffies() -> int:
    """CPU time of this process and of its children it has reaped (wrk runs)."""
    times = os.times()
    seconds = times.user + times.system + times.children_user + times.children_system
    return round(seconds * clock_ticks())


class CpuWindow:
    """How busy the machine's cores were over a window, and how much of that was not ours.

    `ours` lists the process trees the benchmark runs (server, database, workers); this process
    and the wrk runs it waited for count as ours too. The rest is interference: other programs
    on the machine, and time the hypervisor stole.
    """

    def __init__(self, ours: Callable[[], list[int]]) -> None:
        self._ours = ours
        self._start: tuple[tuple[int, int, int, int], int] = ((0, 0, 0, 0), 0)
        self.busy = 0.0
        self.others = 0.0
        self.stolen = 0.0
        self.load = 0.0  # the 1-minute load average at the end

    def _ours_now(self) -> int:
        return tree_jiffies(self._ours()) + own_jiffies()

    def __enter__(self) -> Self:
        self._start = cpu_times(), self._ours_now()
        return self

    def __exit__(self, *exc: object) -> None:
        (busy0, total0, work0, steal0), ours0 = self._start
        (busy1, total1, work1, steal1), ours1 = cpu_times(), self._ours_now()
        total = total1 - total0
        if total:
            self.busy = (busy1 - busy0) / total
            self.others = max(0, (work1 - work0) - (ours1 - ours0)) / total
            self.stolen = (steal1 - steal0) / total
        self.load = float(load_average().split()[0])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
