"""What processes use: the memory and CPU time of the process trees the benchmark starts
(started and stopped by tests.support.processes), and how busy the machine's cores were."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self


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


def pids_named(commands: set[str]) -> list[int]:
    """Every process whose name (/proc/PID/comm, cut by the kernel to 15 characters) is one of
    `commands`."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue  # exited meanwhile
        if name in commands:
            found.append(int(comm.parent.name))
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
    master and workers (and any mule), or the in-process leader and its forked workers. A
    process below two roots (a container's server below the engine's shim) counts once."""
    return jiffies(sorted({pid for root in roots for pid in descendants(root)}))


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


class PeakPss:
    """Samples the PSS of some process trees in a thread while in the ``with`` block; keeps the
    peak of ``combine`` over them (sum: a server's total; max: its largest worker). Sampling
    also ends as soon as ``proceed(peak)`` is false."""

    def __init__(self, pids: Callable[[], list[int]], combine: Callable[[list[int]], int] = sum,
                 interval: float = 0.5, proceed: Callable[[int], bool] = lambda peak: True) -> None:
        self._pids = pids
        self._combine = combine
        self._interval = interval
        self._proceed = proceed
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = [pss_bytes(pid) for pid in self._pids()]
            if sizes:
                self.peak = max(self.peak, self._combine(sizes))
            if not self._proceed(self.peak):
                return
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
