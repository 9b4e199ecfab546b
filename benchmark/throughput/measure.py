"""Throughput, latency and memory of one configuration on the seeded database.

A server configuration is started, measured with wrk and stopped; the in-process limit is
measured through benchmark.throughput.inprocess workers instead. Each point is a warm-up run, then a
measured run, during which the machine's CPU (and for reads the server's total PSS) is sampled.
"""

from __future__ import annotations

import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.support import processes, wrk
from benchmark.throughput.batches import Batch
from benchmark.throughput.configs import Config
from benchmark.throughput.containers import ContainerServer, ContainerWorkers, engine_pids
from benchmark.throughput.inprocess import Answer, Workers
from tests.support import http
from tests.support.network import free_port
from tests.support.processes import Process
from tests.support.server import NOAUTH

CONNECTIONS = 10  # upstream's performance job runs ab -c 10: enough to keep 2 cores busy
WRITES = "PUT /allocations"


@dataclass
class Settings:
    """How long each point runs, and against what."""

    database_url: str
    workdir: Path
    warmup_s: float = 2
    measure_s: float = 5
    connections: int = CONNECTIONS
    cores: int = 2
    database_pid: int = 0  # the database server's, to tell its CPU from other programs'


@dataclass
class Measured:
    """One configuration: results per endpoint label (WRITES for the writes), memory in bytes."""

    config: Config
    results: dict[str, wrk.LoadResult] = field(default_factory=dict)
    idle_pss: int = 0
    load_pss: int = 0  # the peak over all the reads
    pss_during: dict[str, int] = field(default_factory=dict)  # the peak under each read's load
    workers: str = ""  # what placedock said it runs ("2x4"), for its defaults
    batch: Batch | None = None  # allocation candidates in a closed batch (the CPU goal's rows)


def server_env(base: dict[str, str], settings: Settings, port: int) -> dict[str, str]:
    """What every server gets; placedock its own metrics port (as shipped, metrics on), so that
    no two servers on this host try the default one."""
    return {**base, **NOAUTH,
            "OS_PLACEMENT_DATABASE__CONNECTION": settings.database_url,
            "PLACEDOCK_ADDRESS": "127.0.0.1", "PLACEDOCK_PORT": str(port),
            "PLACEDOCK_METRICS_PORT": str(free_port()),
            "PLACEDOCK_DATA_DIR": str(settings.workdir / f"data-{port}")}


@contextmanager
def serving(config: Config, env: dict[str, str], port: int, settings: Settings
            ) -> Iterator[Process]:
    """The configuration's server, ready (a 200 on /resource_providers); stopped afterwards."""
    name = config.name.split(" ")[0].rstrip(":")
    log_path = settings.workdir / f"{name}-{port}.log"
    server = (ContainerServer(config.image, {**env, **config.env}, log_path).start()
              if config.image
              else Process(log_path, kind=name, stop_signal=signal.SIGINT).spawn(
                  config.command_for(port), {**env, **config.env}))
    try:
        http.wait_for(f"http://127.0.0.1:{port}/resource_providers", timeout=120, process=server,
                      since=server.started_at, interval=0.01)
        yield server
    finally:
        server.stop()


def timed(run: Callable[[], wrk.LoadResult], ours: Callable[[], list[int]]
          ) -> wrk.LoadResult:
    """Run one measurement, adding how busy the cores were and how much of it was not ours."""
    with processes.CpuWindow(ours) as window:
        result = run()
    result.cpu_busy, result.others = window.busy, window.others
    result.stolen, result.load = window.stolen, window.load
    return result


def counted_window_cpu(pids: Callable[[], list[int]], settings: Settings
                       ) -> Callable[[float], float]:
    """For wrk.run: the CPU seconds of these process trees over the window wrk counts, which
    opens `warmup_s` after wrk starts and lasts `measure_s`."""
    def measure(started: float) -> float:
        _sleep_until(started + settings.warmup_s)
        before = processes.tree_jiffies(pids())
        _sleep_until(started + settings.warmup_s + settings.measure_s)
        return (processes.tree_jiffies(pids()) - before) / processes.clock_ticks()

    return measure


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def measure_reads(config: Config, server: Process, port: int,
                  endpoints: dict[str, str], settings: Settings) -> Measured:
    """Each endpoint in turn, with the server's PSS idle (first) and at its peak."""
    measured = Measured(config, workers=_workers_line(server.log_path))
    time.sleep(0.5)
    measured.idle_pss = processes.pss_bytes(server.pid)
    script = wrk.headers_script(settings.workdir)
    for label, path in endpoints.items():
        with processes.PeakPss(lambda: [server.pid]) as peak:
            measured.results[label] = _wrk(f"http://127.0.0.1:{port}{path}", script, server,
                                           settings)
        measured.pss_during[label] = max(peak.peak, processes.pss_bytes(server.pid))
    measured.load_pss = max(measured.pss_during.values())
    return measured


def measure_writes(server: Process, port: int, providers: list[str],
                   settings: Settings) -> wrk.LoadResult:
    script = wrk.writes_script(settings.workdir, providers)  # new consumers every time
    return _wrk(f"http://127.0.0.1:{port}/", script, server, settings)


def _wrk(url: str, script: Path, server: Process, settings: Settings
         ) -> wrk.LoadResult:
    return timed(lambda: wrk.run(url, settings.warmup_s, settings.measure_s,
                                 settings.connections, script,
                                 counted_window_cpu(lambda: [server.pid], settings)),
                 lambda: [server.pid, settings.database_pid, *_engine(server)])


@contextmanager
def in_process(config: Config, env: dict[str, str], settings: Settings) -> Iterator[Workers]:
    """`settings.cores` in-process workers, loaded (in the configuration's image if it has
    one); stopped afterwards."""
    log_path = settings.workdir / "inprocess.log"
    workers = (ContainerWorkers(config.image, settings.cores, {**env, **config.env}, log_path)
               if config.image else Workers(settings.cores, {**env, **config.env}, log_path))
    try:
        workers.start()
        yield workers
    finally:
        workers.stop()


def measure_limit_reads(config: Config, workers: Workers, endpoints: dict[str, str],
                        settings: Settings) -> Measured:
    """The in-process limit: every endpoint, through the workers, no HTTP."""
    measured = Measured(config)
    measured.idle_pss = sum(processes.pss_bytes(pid) for pid in workers.pids)
    for label, path in endpoints.items():
        with processes.PeakPss(lambda: workers.pids) as peak:
            measured.results[label] = _point(
                lambda seconds, path=path: _combine(workers.get(path, seconds)), workers,
                settings)
        measured.pss_during[label] = max(peak.peak, sum(map(processes.pss_bytes, workers.pids)))
    measured.load_pss = max(measured.pss_during.values())
    return measured


def measure_limit_writes(workers: Workers, providers: list[str],
                         settings: Settings) -> wrk.LoadResult:
    return _point(lambda seconds: _combine(workers.write(providers, seconds)), workers, settings)


def _point(run: Callable[[float], wrk.LoadResult], workers: Workers, settings: Settings
           ) -> wrk.LoadResult:
    """In-process: a warm-up order, then the measured one, with the CPU the leader and its
    workers spent on it (the leader only relays: nearly all of it is the workers')."""
    run(settings.warmup_s)

    def measured() -> wrk.LoadResult:
        before = processes.tree_jiffies(workers.pids)
        result = run(settings.measure_s)
        spent = processes.tree_jiffies(workers.pids) - before
        result.server_cpu_s = spent / processes.clock_ticks()
        return result

    return timed(measured, lambda: [*workers.pids, settings.database_pid, *_engine(workers)])


def _engine(host: Process | Workers) -> list[int]:
    """In a container, the Docker engine's processes too (containers.engine_pids)."""
    return engine_pids() if isinstance(host, ContainerServer | ContainerWorkers) else []


def _combine(answers: list[Answer]) -> wrk.LoadResult:
    durations = sorted(value for answer in answers for value in answer["durations"])
    quantiles = statistics.quantiles(durations, n=100, method="inclusive")
    return wrk.LoadResult(rate=sum(answer["count"] / answer["elapsed"] for answer in answers),
                          p50_ms=quantiles[49] * 1e3, p99_ms=quantiles[98] * 1e3,
                          requests=len(durations),
                          errors=sum(answer["failures"] for answer in answers))


def _workers_line(log_path: Path) -> str:
    """placedock's "serving on port N with P processes x T threads" -> "PxT"."""
    for line in log_path.read_text(errors="replace").splitlines():
        if "serving on port" in line and " with " in line:
            words = line.split(" with ", 1)[1].split()
            return f"{words[0]}x{words[3]}"
    return ""
