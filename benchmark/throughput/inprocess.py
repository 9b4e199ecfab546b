"""The limit: placement's WSGI app called in-process, no HTTP, one worker process per core.

``python -m benchmark.throughput.inprocess N`` loads ``placement.wsgi.api:application`` (its
configuration from the environment, as the servers get it) and forks N workers from it, as uwsgi
forks its workers from a master that loaded the app: the same process model, without the server. It
says ``ready``, then reads one JSON list of orders per line on stdin, gives order i to worker i, and
answers one JSON line: their answers, in order. An order is one of:

- ``{"path": ..., "seconds": ...}``: GET that path in a loop for that long, through a WSGI
  environ made by webob; answer the count, the failures and every call's duration.
- ``{"writes": [provider, ...], "seconds": ...}``: the same with the writes wrk sends
  (benchmark.support.wrk.WRITES_LUA): PUT /allocations/{new consumer} against a random provider.
- ``{"seed": [start, stop]}``: make those providers with placement's objects
  (benchmark.throughput.seed); answer their UUIDs.
- ``{"vacuum": true}``: VACUUM ANALYZE the database (benchmark.throughput.seed.vacuum_analyze).

Placement's own logging goes to stderr.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypedDict

from benchmark.support.wrk import PROJECT, USER
from benchmark.throughput import seed
from tests.support.processes import Process

REPO = Path(__file__).resolve().parents[2]
HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement latest"}

Call = Callable[[], tuple[int, float]]  # one request: (status, seconds)


class Answer(TypedDict):
    """What a worker reports for one measuring order."""

    count: int
    failures: int
    elapsed: float
    durations: list[float]


def _loop(call: Call, seconds: float, ok: int) -> Answer:
    durations: list[float] = []
    failures = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        status, took = call()
        failures += status != ok
        durations.append(took)
    return {"count": len(durations), "failures": failures,
            "elapsed": time.perf_counter() - started,
            "durations": [round(value, 6) for value in durations]}


def _get(app: Callable[..., Any], path: str) -> Call:
    import webob

    def call() -> tuple[int, float]:
        before = time.perf_counter()
        status = webob.Request.blank(path, headers=HEADERS).get_response(app).status_int
        return status, time.perf_counter() - before

    return call


def allocation(provider: str) -> dict[str, object]:
    """The body of a PUT /allocations/{new consumer}: what the wrk writes script sends."""
    return {"allocations": {provider: {"resources": {"VCPU": 1, "MEMORY_MB": 128}}},
            "project_id": PROJECT, "user_id": USER, "consumer_generation": None,
            "consumer_type": "INSTANCE"}


def _put(app: Callable[..., Any], providers: list[str]) -> Call:
    import webob

    headers = {**HEADERS, "content-type": "application/json"}

    def call() -> tuple[int, float]:
        before = time.perf_counter()
        body = json.dumps(allocation(random.choice(providers))).encode()
        request = webob.Request.blank(f"/allocations/{uuid.uuid4()}", method="PUT",
                                      headers=headers, body=body)
        status = request.get_response(app).status_int
        return status, time.perf_counter() - before

    return call


def _obey(app: Callable[..., Any], order: dict[str, Any]) -> object:
    if "seed" in order:
        return seed.make_providers(range(*order["seed"]))
    if "vacuum" in order:
        seed.vacuum_analyze()
        return None
    if "writes" in order:
        return _loop(_put(app, order["writes"]), order["seconds"], ok=204)
    return _loop(_get(app, order["path"]), order["seconds"], ok=200)


def _work(app: Callable[..., Any], orders: Connection) -> None:
    """A forked worker: obey orders until the leader says None."""
    while (order := orders.recv()) is not None:
        orders.send(_obey(app, order))


def leader(count: int) -> int:
    """Load the app, fork `count` workers, relay orders to them; stdout carries the protocol
    and everything else (placement's logging) goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from placement import db_api
    from placement.wsgi.api import application

    db_api.get_placement_engine().dispose()  # loading ran queries: no connection crosses a fork
    gc.freeze()  # as placedock.wsgi does in uwsgi's master: the same process model
    fork = multiprocessing.get_context("fork")
    pipes = [fork.Pipe() for _ in range(count)]
    workers = [fork.Process(target=_work, args=(application, child)) for _, child in pipes]
    for worker in workers:
        worker.start()
    protocol.write("ready\n")
    protocol.flush()
    for line in sys.stdin:
        orders = json.loads(line)
        for (mine, _), order in zip(pipes, orders, strict=False):
            mine.send(order)
        protocol.write(json.dumps([mine.recv() for mine, _ in pipes[:len(orders)]]) + "\n")
        protocol.flush()
    for (mine, _), worker in zip(pipes, workers, strict=True):
        mine.send(None)
        worker.join()
    return 0


class Workers:
    """The leader and its N forked workers, given their orders at the same moment."""

    def __init__(self, count: int, env: dict[str, str], log_path: Path) -> None:
        self.count = count
        self.env = env
        self.process = Process(log_path, kind="the in-process workers")

    @property
    def pids(self) -> list[int]:
        """The leader's PID (its workers are its children)."""
        return [self.process.pid] if self.process.running else []

    def command(self) -> list[str]:
        """What starts the leader: this module on this Python."""
        return [sys.executable, "-m", "benchmark.throughput.inprocess", str(self.count)]

    def start(self) -> None:
        self.process.spawn(self.command(), self.env, cwd=REPO, talk=True)
        if self._read_line() != "ready":
            raise RuntimeError(f"the in-process workers did not load:\n{self.log_tail()}")

    def get(self, path: str, seconds: float) -> list[Answer]:
        """Every worker GETs `path` for `seconds`; their answers."""
        answers: list[Answer] = self.send([{"path": path, "seconds": seconds}] * self.count)
        return answers

    def write(self, providers: list[str], seconds: float) -> list[Answer]:
        """Every worker writes allocations for `seconds`; their answers."""
        answers: list[Answer] = self.send([{"writes": providers, "seconds": seconds}] * self.count)
        return answers

    def seed(self, count: int) -> list[str]:
        """`count` providers made by the workers in parallel, then VACUUM ANALYZE; their UUIDs."""
        first = self.send([{"seed": [0, 3]}])[0]  # the aggregates, made once before the rush
        share = -(-(count - 3) // self.count)
        orders = [{"seed": [start, min(start + share, count)]} for start in range(3, count, share)]
        made = [*first, *(provider for answer in self.send(orders) for provider in answer)]
        self.send([{"vacuum": True}])
        return made

    def send(self, orders: list[dict[str, Any]]) -> list[Any]:
        """Order i to worker i, all at once; their answers, in order."""
        popen = self.process.popen
        assert popen is not None and popen.stdin is not None
        popen.stdin.write(json.dumps(orders) + "\n")
        popen.stdin.flush()
        answers = self._read_line()
        if not answers:
            raise RuntimeError(f"the in-process workers died:\n{self.log_tail()}")
        result: list[Any] = json.loads(answers)
        return result

    def stop(self) -> None:
        """Close the leader's stdin (it stops its workers and exits); if it lingers, stop it as
        any process we started."""
        popen = self.process.popen
        if popen is None or not self.process.running:
            return
        assert popen.stdin is not None
        popen.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.stop(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)

    def _read_line(self) -> str:
        assert self.process.popen is not None and self.process.popen.stdout is not None
        line: str = self.process.popen.stdout.readline()
        return line.strip()


if __name__ == "__main__":
    sys.exit(leader(int(sys.argv[1])))
