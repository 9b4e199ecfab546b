"""Whether hostile and careless clients starve the workers: `.venv/bin/python -m
benchmark.front.hostile_clients` from the repository's root.

placedock's quick start (startup.sh natively, its defaults: 2 processes x 1 thread behind its
front, nginx; the embedded sqlite, noauth2) meets one kind of client per phase, while a
well-behaved probe asks `GET /` every 0.1 s with a 1 s timeout:
- none (the baseline);
- slow headers: connections that send `GET / HTTP/1.1` and then one header byte every 2 s
  (2, 64 and 1,024 of them);
- slow bodies: full headers announcing a 1 MB body, then a body byte every 2 s (64);
- idle: connections opened and left silent (10,000).
The goal: at least 99% of the probe's requests answered within 1 s in every phase (before the
front, uwsgi's own http-socket answered none with 2 slow-header connections). Writes
benchmark/front/hostile_clients.md (or --output).
Every connection is to 127.0.0.1; every phase is bounded in time; the server is stopped by its
PID at the end.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import resource
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmark.support import processes
from benchmark.support.tables import markdown_table
from tests.support.load import send
from tests.support.network import free_port
from tests.support.server import QUICK_START, Server

GOAL = 0.99
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 1.0
TRICKLE_EVERY_S = 2.0
BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Phase:
    name: str
    kind: str  # "none", "slow-headers", "slow-body", "idle"
    connections: int


PHASES = (
    Phase("baseline", "none", 0),
    Phase("slow-headers-2", "slow-headers", 2),
    Phase("slow-headers-64", "slow-headers", 64),
    Phase("slow-headers-1024", "slow-headers", 1_024),
    Phase("slow-bodies-64", "slow-body", 64),
    Phase("idle-10000", "idle", 10_000),
)


class Hostiles:
    """``count`` connections of one kind, kept up by one thread until stopped: each is sent its
    opening, then one more byte every TRICKLE_EVERY_S (none, for idle ones)."""

    def __init__(self, port: int, kind: str, count: int) -> None:
        self.port, self.kind, self.count = port, kind, count
        self.attempted = 0
        self.opened = 0
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _opening(self) -> bytes:
        if self.kind == "slow-body":
            return (b"POST /resource_providers HTTP/1.1\r\nHost: x\r\nx-auth-token: admin\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % BODY_BYTES)
        if self.kind == "slow-headers":
            return b"GET / HTTP/1.1\r\n"
        return b""

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        sockets: list[socket.socket] = []
        for _ in range(self.count):
            if self._stop.is_set():
                break
            self.attempted += 1
            try:
                connection = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                connection.sendall(self._opening())
                connection.setblocking(False)
            except OSError:
                continue
            sockets.append(connection)
            selector.register(connection, selectors.EVENT_READ)
            self.opened += 1
        filler = b"a" if self.kind == "slow-body" else b"X"
        next_trickle = time.monotonic() + TRICKLE_EVERY_S
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                # The server answered or closed: this one is no longer holding anything.
                with contextlib.suppress(OSError):
                    key.fileobj.recv(65536)  # type: ignore[union-attr]
                selector.unregister(key.fileobj)
                self.closed_by_server += 1
            if self.kind != "idle" and time.monotonic() >= next_trickle:
                next_trickle += TRICKLE_EVERY_S
                for key in list(selector.get_map().values()):
                    with contextlib.suppress(OSError):
                        key.fileobj.send(filler)  # type: ignore[union-attr]
        for connection in sockets:
            connection.close()

    def __enter__(self) -> Hostiles:
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.attempted < self.count and time.monotonic() < deadline \
                and self._thread.is_alive():
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def probe(url: str, seconds: float) -> collections.Counter[str]:
    """GET / every PROBE_EVERY_S for ``seconds``: "answered" (a 200 within 1 s), else how it
    ended (timeout, refused, failed, a status)."""
    target = urllib.parse.urlsplit(url)
    outcomes: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        reply = send(target, "GET", "/", {"x-auth-token": "admin"}, timeout=PROBE_TIMEOUT_S)
        took = time.monotonic() - started
        outcomes["answered" if reply.outcome == "200" and took <= PROBE_TIMEOUT_S
                 else reply.outcome] += 1
        time.sleep(max(0.0, started + PROBE_EVERY_S - time.monotonic()))
    return outcomes


def run(seconds: float, phases: tuple[Phase, ...]) -> list[tuple[Phase, int, dict[str, int]]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 10,000 sockets of our own
    results = []
    with tempfile.TemporaryDirectory(prefix="placedock-hostile-") as tmp:
        workdir = Path(tmp)
        server = Server(workdir, free_port(), {**QUICK_START,
                                               "PLACEDOCK_DATA_DIR": str(workdir / "data")})
        server.start().wait_ready()
        try:
            for phase in phases:
                with Hostiles(server.port, phase.kind, phase.connections) as hostiles:
                    outcomes = probe(server.url, seconds)
                    opened = hostiles.opened
                results.append((phase, opened, dict(outcomes)))
                answered = outcomes["answered"] / max(1, sum(outcomes.values()))
                print(f"  {phase.name}: {opened} opened, probe {dict(outcomes)} "
                      f"({100 * answered:.1f}% answered within {PROBE_TIMEOUT_S:g} s)",
                      flush=True)
                time.sleep(3)  # let the server close what the phase left
        finally:
            server.stop()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return results


def report(results: list[tuple[Phase, int, dict[str, int]]], seconds: float) -> list[str]:
    rows = []
    for phase, opened, outcomes in results:
        total = sum(outcomes.values())
        share = outcomes.get("answered", 0) / total if total else 0.0
        others = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items())
                           if name != "answered") or "none"
        rows.append([phase.name, f"{opened:,}", str(total), f"{100 * share:.1f}%", others,
                     "met" if share >= GOAL else "**NOT MET**"])
    return [
        "# Hostile and slow clients against placedock's quick start",
        "",
        f"Made by `.venv/bin/python -m benchmark.front.hostile_clients` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC (load average {processes.load_average()}): "
        f"each phase {seconds:g} s; a probe asks `GET /` every {PROBE_EVERY_S:g} s with a "
        f"{PROBE_TIMEOUT_S:g} s timeout. Goal: at least {100 * GOAL:g}% answered within "
        f"{PROBE_TIMEOUT_S:g} s in every phase.",
        "",
        *markdown_table(["phase", "connections opened", "probes", "answered within 1 s",
                         "the others", "goal"], "lrrrll", rows),
    ]


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="of each phase")
    parser.add_argument("--phases", default=",".join(phase.name for phase in PHASES),
                        help="names of the phases to run, separated by commas")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).parent / "hostile_clients.md")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.phases.split(",")]
    phases = tuple(phase for phase in PHASES if phase.name in wanted)
    if len(phases) != len(wanted):
        known = ", ".join(phase.name for phase in PHASES)
        raise SystemExit(f"--phases: unknown phase in {args.phases!r}; known: {known}")
    lines = report(run(args.seconds, phases), args.seconds)
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
