"""Prometheus metrics: what each request cost, how saturated the server is, and the database.

The workers count into prometheus_client's multiprocess files (one set per process) in a folder
beside the stats socket, on the tmpfs a read-only container writes its sockets to. A uwsgi mule,
forked like the workers, serves them on PLACEDOCK_METRICS_PORT with no token: never on the API's
port, so the API's balancer and clients never see them, and never queued behind busy workers, so
a saturated server still answers a scrape. At each scrape the mule adds what no worker counts:
the listen queue (the kernel's, placedock.socket_queue) and busy/idle workers (uwsgi's stats
socket), readiness, and an info metric with the versions.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any

from placedock import defaults, logs

PORT_VARIABLE = "PLACEDOCK_METRICS_PORT"
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for it
# From 1 ms (GET / takes about 0.4 ms of CPU) to 30 s (allocation candidates on a large cloud).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


def port(environ: Mapping[str, str] = os.environ) -> int:
    """0 when metrics are off (placedock.environment has checked the value)."""
    return int(environ.get(PORT_VARIABLE) or 0)


def directory(stats_socket: str) -> str:
    return f"{stats_socket}.metrics"


def prepare_directory(stats_socket: str) -> None:
    """In the master, before anything counts: an empty folder, named in the environment.

    prometheus_client requires it empty at start (files of an earlier run would add to the
    counts), and reads its name from the environment in every process.
    """
    path = directory(stats_socket)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    os.environ[DIRECTORY_VARIABLE] = path


class RequestMetrics:
    """Counts and times requests, by method, route template and status."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("placedock_http_requests", "HTTP requests answered.",
                                ["method", "route", "status"])
        self.duration = Histogram("placedock_http_request_duration_seconds",
                                  "Time from the request reaching placedock to its last byte.",
                                  ["method", "route"], buckets=DURATION_BUCKETS)
        self.in_flight = Gauge("placedock_http_requests_in_flight", "Requests being served.",
                               multiprocess_mode="livesum")

    def started(self) -> None:
        self.in_flight.inc()

    def finished(self, method: str, route: str, status: str, seconds: float,
                 request_id: str) -> None:
        method = method if method in METHODS else "OTHER"
        self.in_flight.dec()
        self.requests.labels(method, route, status).inc()
        self.duration.labels(method, route).observe(seconds)


class DatabaseMetrics:
    """Pool connections in use, from hooks on placement's engine, and errors by kind, as
    placedock.database.OutageWatch (which sees every failure) tells them."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        self.in_use = Gauge("placedock_database_connections_in_use",
                            "Pooled database connections checked out by requests.",
                            multiprocess_mode="livesum")
        self.errors = Counter("placedock_database_errors", "Database errors, by kind: connect "
                              "(no connection could be made), disconnect (one was lost), or the "
                              "driver's exception class.", ["kind"])

    def watch(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "checkout", lambda *_: self.in_use.inc())
        event.listen(engine, "checkin", lambda *_: self.in_use.dec())

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()


class ServerState:
    """Collected at each scrape, in the mule: saturation, readiness and versions."""

    def __init__(self, stats: Callable[[], dict[str, Any] | str],
                 schema: Callable[[], tuple[str | None, str | None]],
                 placedock_revision: str,
                 queue: Callable[[], tuple[int, int] | None] = lambda: None) -> None:
        self.stats = stats  # uwsgi's stats, or why they could not be read
        # The workers' unix socket's queue, from the kernel (placedock.socket_queue): uwsgi's
        # stats measure TCP sockets' only. None: not known, uwsgi's figure stands.
        self.queue = queue
        self.schema = schema  # the schema revision found, and None when ready else the reason
        self.placedock_revision = placedock_revision

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        stats = self.stats()
        if isinstance(stats, dict):
            queued = self.queue()
            yield GaugeMetricFamily("placedock_uwsgi_listen_queue", "Connections waiting in the "
                                    "listen queue for a free worker (requests the front has "
                                    "read whole): a queue that grows means add replicas.",
                                    value=queued[0] if queued else stats.get("listen_queue", 0))
            yield CounterMetricFamily("placedock_uwsgi_listen_queue_errors", "Connections "
                                      "refused because the listen queue was full (uwsgi counts "
                                      "them on a TCP socket only; behind the front, a full "
                                      "queue is placedock_uwsgi_listen_queue at its length).",
                                      value=stats.get("listen_queue_errors", 0))
            yield CounterMetricFamily(
                "placedock_request_timeouts", "Requests cut at PLACEDOCK_REQUEST_TIMEOUT: the "
                "client got a 504 and the worker was replaced (uwsgi's harakiri).",
                value=sum(worker.get("harakiri_count", 0)
                          for worker in stats.get("workers", [])))
            workers = GaugeMetricFamily("placedock_uwsgi_workers", "uwsgi workers by state.",
                                        labels=["state"])
            states = {"idle": 0, "busy": 0}
            for worker in stats.get("workers", []):
                if worker.get("pid", 0) > 0:
                    state = worker.get("status", "")
                    state = state if state in states else "other"
                    states[state] = states.get(state, 0) + 1
            for state, count in sorted(states.items()):
                workers.add_metric([state], count)
            yield workers
        revision, problem = self.schema()
        yield GaugeMetricFamily("placedock_ready", "1 when the database answers and its schema "
                                "is one this release serves (GET /health/ready), else 0.",
                                value=0 if problem else 1)
        info = InfoMetricFamily("placedock", "Versions: placement, the database's schema, "
                                "placedock's revision.")
        info.add_metric([], {"placement_version": metadata.version("openstack-placement"),
                             "schema_revision": revision or "none",
                             "placedock_revision": self.placedock_revision})
        yield info


def forget_dead_processes(path: str) -> None:
    """A worker that died (killed, recycled) no longer counts in the live gauges."""
    from prometheus_client import multiprocess

    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    return True


# What the mule serves: built in the master by prepare_mule, before the fork.
_mule_registry: Any = None


def prepare_mule() -> None:
    """In the master, before the workers and mules fork (placedock.wsgi, when metrics are on):
    the mule's registry, its collectors and its database engine (pool-less: no connection is
    open before a scrape). Built in the mule, they took 2.8 of its 4.9 MB of private memory (the
    objects, the modules they import, and the master's pages that building them wrote to, each
    then copied); built here, the mule shares them with the master."""
    global _mule_registry
    if DIRECTORY_VARIABLE in os.environ:  # else the app was loaded outside placedock.serve
        _mule_registry = _mule_state()


def _mule_state() -> Any:
    from placement import db_api
    from prometheus_client import CollectorRegistry, multiprocess

    # The app is loaded: placedock.wsgi calls prepare_mule in the master.
    from placedock import database, front, health, socket_queue

    path = os.environ[DIRECTORY_VARIABLE]
    registry = CollectorRegistry()

    class Processes(multiprocess.MultiProcessCollector):
        def collect(self) -> Any:
            forget_dead_processes(path)
            return super().collect()

    Processes(registry, path)
    # An engine of its own: the scrape's check is no request, and never waits for the pool.
    engine = database.engine_for(db_api.get_placement_engine().url)
    wanted = database.head()
    workers_socket = front.uwsgi_socket(os.environ["PLACEDOCK_STATS_SOCKET"])
    registry.register(ServerState(
        stats=lambda: health.uwsgi_stats(os.environ),
        schema=lambda: database.schema_state(engine, wanted),
        placedock_revision=os.environ.get("PLACEDOCK_REVISION", "unknown"),
        queue=lambda: socket_queue.waiting(workers_socket),
    ))
    return registry


def serve() -> None:
    """The metrics mule's body (``mule = placedock.metrics:serve``): serve until uwsgi stops it."""
    from prometheus_client import start_http_server

    registry = _mule_state() if _mule_registry is None else _mule_registry
    address = os.environ.get("PLACEDOCK_ADDRESS", defaults.ADDRESS)
    try:
        start_http_server(port(), address, registry)
    except OSError as error:
        # The API matters more than its metrics: it goes on; this says why they are missing.
        print(logs.placedock_line(
            f"warning: no metrics: cannot listen on port {port()} of {address}: "
            f"{error.strerror}; give each instance on one network its own "
            f"{PORT_VARIABLE}, or 0 for none"), file=sys.stderr, flush=True)
    while True:  # the server runs in a thread; uwsgi ends this process when it stops
        time.sleep(3600)
