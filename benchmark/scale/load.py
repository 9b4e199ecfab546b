"""One cell of the size sweep: a bounded number of requests, every one classified.

A few client threads send the cell's requests (a new connection each: placedock closes them) until
the cell's time budget is spent and its minimum count reached, or its maximum count sent. Every
request ends as one of OUTCOMES, each bounded by a client timeout: a request that takes longer is
a figure ("timeout"), not a hang. Over the cell, the server's and the database's CPU time are read
from /proc (benchmark.support.processes) and each uwsgi worker's PSS is sampled; CPU per request is
the server's CPU over the cell divided by the 2xx responses, which other programs on the machine
barely change.
"""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmark.scale.servers import Placedock
from benchmark.support import processes
from placedock import health

# 409: a generation conflict (another write changed the provider or consumer meanwhile), which
# nova retries; counted apart from the other 4xx.
OUTCOMES = ("2xx", "409", "4xx", "5xx", "refused", "reset", "timeout")
CONFLICT = "409"
HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement 1.36",
           "accept": "application/json"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    # Called after a 2xx: a write whose client keeps state (consumer generations) settles it.
    answered: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Budget:
    """How many requests a cell sends: at least `least`, at most `most`, and no new one after
    `seconds` once `least` were sent; each may take `timeout` seconds."""

    seconds: float
    least: int
    most: int
    timeout: float
    clients: int = 2
    retries: int = 0  # on a 409, as nova's report client retries its writes, with a backoff


@dataclass
class Cell:
    """What one cell measured."""

    label: str
    outcomes: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)  # seconds, of the 2xx responses
    sizes: list[int] = field(default_factory=list)  # bytes, of the 2xx responses
    server_cpu_s: float = 0.0
    database_cpu_s: float = 0.0
    worker_pss: int = 0  # the peak PSS of one uwsgi worker, bytes
    elapsed: float = 0.0
    first_body: bytes = b""  # one 2xx response, for the checks
    retried: int = 0  # 409s retried (the outcome counted is the last try's)

    @property
    def ok(self) -> int:
        return self.outcomes["2xx"]

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    @property
    def server_cpu_ms(self) -> float | None:
        return self.server_cpu_s * 1e3 / self.ok if self.ok else None

    @property
    def database_cpu_ms(self) -> float | None:
        return self.database_cpu_s * 1e3 / self.ok if self.ok else None

    def percentile_ms(self, share: float) -> float | None:
        if not self.durations:
            return None
        if len(self.durations) == 1:
            return self.durations[0] * 1e3
        cuts = statistics.quantiles(self.durations, n=100, method="inclusive")
        return cuts[round(share * 100) - 1] * 1e3

    @property
    def size(self) -> int | None:
        return int(statistics.median(self.sizes)) if self.sizes else None


def send(port: int, request: Request, timeout: float) -> tuple[str, float, bytes]:
    """One request on a new connection: its outcome, seconds and (for a 2xx) body."""
    headers = dict(HEADERS)
    if request.body is not None:
        headers["content-type"] = "application/json"
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except TimeoutError:
        return "timeout", time.monotonic() - started, b""
    except ConnectionRefusedError:
        return "refused", time.monotonic() - started, b""
    except (ConnectionError, http.client.HTTPException):
        return "reset", time.monotonic() - started, b""
    finally:
        connection.close()
    took = time.monotonic() - started
    if response.status == 409:
        return CONFLICT, took, body
    return f"{min(response.status // 100, 5)}xx", took, body


def worker_pids(server: Placedock) -> list[int]:
    """uwsgi's workers, as placedock's master lists them on its stats socket (its metrics mule
    is a child of the master too, but no worker)."""
    stats = health.uwsgi_stats(server.env)
    if not isinstance(stats, dict):
        return []
    return [worker["pid"] for worker in stats.get("workers", []) if worker.get("pid", 0) > 0]


class WorkerPss(processes.PeakPss):
    """The largest uwsgi worker's PSS, four samples a second; past `bound` bytes (if given) it
    stops the server, our own process, so that a runaway request cannot take the machine's
    memory (`stopped` then says so)."""

    def __init__(self, server: Placedock, bound: int | None = None) -> None:
        self.server = server
        self.bound = bound
        self.stopped = False
        super().__init__(lambda: worker_pids(server), combine=max, interval=0.25,
                         proceed=self._within_bound)

    def _within_bound(self, peak: int) -> bool:
        if not self.server.running:
            return False
        if self.bound is not None and peak > self.bound:
            self.stopped = True
            self.server.stop(timeout=5)
            return False
        return True


def run_cell(label: str, port: int, requests: Callable[[int], Request], budget: Budget,
             server: Placedock, database_pid: int) -> Cell:
    """Send `requests(0)`, `requests(1)`... as `budget` allows, from `budget.clients` threads."""
    cell = Cell(label)
    lock = threading.Lock()
    started = time.monotonic()
    taken = 0  # requests handed to a client so far

    def next_index() -> int | None:
        nonlocal taken
        with lock:
            spent = time.monotonic() - started > budget.seconds
            if taken >= budget.most or (spent and taken >= budget.least):
                return None
            taken += 1
            return taken - 1

    def client() -> None:
        while (index := next_index()) is not None:
            request = requests(index)
            outcome, took, body = send(port, request, budget.timeout)
            tries = 0
            while outcome == CONFLICT and tries < budget.retries:
                tries += 1
                time.sleep(random.uniform(0, 0.1 * 2**tries))  # apart from its rival
                outcome, again, body = send(port, request, budget.timeout)
                took += again
            if outcome == "2xx" and request.answered is not None:
                request.answered()
            with lock:
                cell.retried += tries
                cell.outcomes[outcome] += 1
                if outcome == "2xx":
                    cell.durations.append(took)
                    cell.sizes.append(len(body))
                    if not cell.first_body:
                        cell.first_body = body

    server_before = processes.tree_jiffies([server.pid])
    database_before = processes.tree_jiffies([database_pid])
    with WorkerPss(server) as pss:
        threads = [threading.Thread(target=client, daemon=True) for _ in range(budget.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ticks = processes.clock_ticks()
    cell.server_cpu_s = (processes.tree_jiffies([server.pid]) - server_before) / ticks
    cell.database_cpu_s = (processes.tree_jiffies([database_pid]) - database_before) / ticks
    cell.worker_pss = pss.peak
    cell.elapsed = time.monotonic() - started
    return cell
