"""CPU per allocation-candidates request from closed batches: what the CPU goal is judged by.

wrk's counted window cuts through requests in flight: with about 10 allocation-candidates
requests completed in 5 s and up to 4 in progress at either edge, one run's CPU per request moves
by 20% either way. Here the server is idle before and after: a batch of CLIENTS clients x EACH
requests (all completed), the server's CPU read before the first is sent and after the last
answer. The in-process limit is measured the same way: its workers loop for a while and stop;
they are idle before and after the order.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from benchmark.support import processes
from benchmark.throughput.inprocess import Workers
from tests.support.load import send

CLIENTS = 10  # as wrk's connections
EACH = 3  # requests per client and batch
SETTLE_S = 0.3  # for the server to finish its bookkeeping before the CPU is read
LIMIT_S = 4.0  # how long each in-process worker loops
HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement latest"}


@dataclass
class Batch:
    cpu_s: float
    requests: int
    failed: int

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1e3 / self.requests if self.requests else 0.0


def _round(url: str, clients: int, each: int) -> tuple[int, int]:
    """`clients` threads sending `each` GETs in turn; (answered 200, failed)."""
    target = urllib.parse.urlsplit(url)
    counts = [0, 0]
    lock = threading.Lock()

    def client() -> None:
        for _ in range(each):
            ok = send(target, "GET", url.split(target.netloc, 1)[1], HEADERS,
                      timeout=120).status == 200
            with lock:
                counts[0 if ok else 1] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts[0], counts[1]


def server(url: str, pids: Callable[[], list[int]]) -> Batch:
    """A warm-up round (one request per client), then the measured batch."""
    _round(url, CLIENTS, 1)
    time.sleep(SETTLE_S)
    before = processes.tree_jiffies(pids())
    ok, failed = _round(url, CLIENTS, EACH)
    time.sleep(SETTLE_S)
    spent = processes.tree_jiffies(pids()) - before
    return Batch(spent / processes.clock_ticks(), ok, failed)


def limit(workers: Workers, path: str) -> Batch:
    workers.get(path, 1.0)  # warm-up
    before = processes.tree_jiffies(workers.pids)
    answers = workers.get(path, LIMIT_S)
    spent = processes.tree_jiffies(workers.pids) - before
    failed = sum(answer["failures"] for answer in answers)
    return Batch(spent / processes.clock_ticks(),
                 sum(answer["count"] for answer in answers) - failed, failed)
