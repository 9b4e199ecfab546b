"""How many boots a minute one placedock replica of the default size serves to nova's own client:
`.venv/bin/python -m benchmark.scale.capacity` from the repository's root.

For each database (the embedded sqlite, PostgreSQL) and each cloud size (100, 1,000 and 10,000
compute nodes), on a fresh database: placedock with its defaults (2 processes x 1 thread), and
tests/nova/boots.py (nova's SchedulerReportClient and ProviderTree, from the nova venv the tests
use) registering the nodes, then booting at a ladder of rates, each for --window seconds, while
every node sends its periodic update each 60 s. A rate is served when no boot failed, no answer
was a 5xx, and allocation candidates' p95 stayed within P95_BOUND_S; the ladder stops at the first
rate that is not. CPU per boot is the server's own CPU (every request: the computes' updates,
candidates, claims, deletes) over the boots. Writes benchmark/scale/nova_capacity.md (or --output).
It starts and stops its own database and placedock servers, each by its PID.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark.scale.servers import POSTGRESQL, create_database, database_server, placedock
from benchmark.support import processes
from benchmark.support.tables import markdown_table
from tests.support import nova

SIZES = (100, 1_000, 10_000)
RATES = (60, 300, 600, 1_200, 2_400)  # boots a minute
P95_BOUND_S = 1.0  # allocation candidates' p95 a scheduler can live with
# The boots asked for must be served within this much more time than the window: a server that
# falls behind serves them late (each boot waits for the ones before it), whatever the rate asked.
LAG_ALLOWED = 1.15
SQLITE = "sqlite"
DATABASES = (SQLITE, POSTGRESQL)
REGISTER_THREADS = 4
SCHEDULERS = 6


@dataclass
class Rung:
    database: str
    computes: int
    per_minute: float
    window: float
    result: dict[str, Any]
    cpu_s: float

    @property
    def achieved_per_minute(self) -> float:
        return 60 * self.result["boots"] / max(self.result["seconds"], self.window)

    @property
    def served(self) -> bool:
        return (self.result["failed_boots"] == 0 and self.result["server_error_count"] == 0
                and self.result["crash_count"] == 0 and self.result["lost"] == 0
                and self.result["allocation_candidates_p95_s"] <= P95_BOUND_S
                and self.result["seconds"] <= self.window * LAG_ALLOWED)

    @property
    def cpu_ms_per_boot(self) -> float:
        return 1000 * self.cpu_s / self.result["boots"] if self.result["boots"] else 0.0


@contextmanager
def database_url(kind: str, workdir: Path, stack: ExitStack, servers: dict[str, Any]
                 ) -> Iterator[str | None]:
    """None for the embedded sqlite (placedock's default), else a fresh database's URL."""
    if kind == SQLITE:
        yield None
        return
    if kind not in servers:
        servers[kind] = database_server(kind, workdir)
        servers[kind].start()
        stack.callback(servers[kind].stop)
    name = f"capacity{time.monotonic_ns() % 10**9}"
    yield create_database(servers[kind], name)


def ladder(kind: str, computes: int, url: str | None, workdir: Path, rates: tuple[int, ...],
           window: float) -> list[Rung]:
    extra = {"DB_SYNC": "True"}
    database = url or f"sqlite:///{workdir}/embedded-{computes}/placement.sqlite"
    with placedock(database, workdir, extra) as (server, port):
        command = nova.command("boots.py", nova.boots_arguments(
            f"http://127.0.0.1:{port}", computes=computes, schedulers=SCHEDULERS,
            boots_per_minute=",".join(str(rate) for rate in rates), seconds=window,
            register_threads=REGISTER_THREADS))
        rungs: list[Rung] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=nova.ENVIRONMENT) as driver:
            assert driver.stdout is not None
            started_jiffies = 0
            try:
                for line in driver.stdout:
                    message = json.loads(line)
                    if "registered_s" in message:
                        print(f"  {kind} {computes:,} nodes registered in "
                              f"{message['registered_s']} s", flush=True)
                    elif "starting" in message:
                        started_jiffies = processes.tree_jiffies([server.pid])
                    else:
                        cpu_s = ((processes.tree_jiffies([server.pid]) - started_jiffies)
                                 / processes.clock_ticks())
                        rung = Rung(kind, computes, message["boots_per_minute_asked"], window,
                                    message, cpu_s)
                        rungs.append(rung)
                        print(f"  {kind} {computes:,} nodes, {rung.per_minute:g}/min: "
                              f"{message['boots']} boots in {message['seconds']} s, "
                              f"failed {message['failed_boots']}, "
                              f"5xx {message['server_error_count']}, candidates p95 "
                              f"{message['allocation_candidates_p95_s']} s, "
                              f"{rung.cpu_ms_per_boot:.0f} ms CPU a boot", flush=True)
                        if not rung.served:
                            break  # the ladder ends at the first rate not served
            finally:
                if driver.poll() is None:  # an error, a stop: the driver goes too
                    driver.terminate()
    return rungs


def report(rungs: list[Rung], window: float) -> list[str]:
    lines = [
        "# nova's boots on one placedock replica (2 processes x 1 thread)",
        "",
        f"Made by `.venv/bin/python -m benchmark.scale.capacity` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {processes.load_average()}: "
        f"each rate for {window:g} s, {SCHEDULERS} schedulers, every node updating each 60 s. "
        f"Served: no failed boot, no 5xx, allocation candidates' p95 <= {P95_BOUND_S:g} s, and "
        f"the boots done within {LAG_ALLOWED:g} times the window (a server that falls behind "
        "serves them late). CPU a boot is the server's own CPU (every request: the nodes' "
        "updates, candidates, claims, deletes) over the boots.",
        "",
    ]
    rows = [[r.database, f"{r.computes:,}", f"{r.per_minute:g}", f"{r.achieved_per_minute:.0f}",
             str(r.result["boots"]), f"{r.result['seconds']:g}",
             str(r.result["failed_boots"]), str(r.result["server_error_count"]),
             f"{1000 * r.result['allocation_candidates_p95_s']:.0f}",
             f"{1000 * r.result['slowest_s']:.0f}", f"{r.cpu_ms_per_boot:.0f}",
             "yes" if r.served else "**no**"] for r in rungs]
    lines += markdown_table(["database", "nodes", "boots/min asked", "boots/min done", "boots",
                             "seconds", "failed", "5xx", "candidates p95 ms", "slowest ms",
                             "CPU ms/boot", "served"], "lrrrrrrrrrrl", rows)
    lines += ["", "Capacity (the highest rate served):", ""]
    capacity = {}
    for rung in rungs:
        key = (rung.database, rung.computes)
        if rung.served:
            capacity[key] = max(capacity.get(key, 0.0), rung.per_minute)
        else:
            capacity.setdefault(key, 0.0)
    lines += markdown_table(
        ["database", "nodes", "boots/min served"], "lrr",
        [[database, f"{computes:,}", f"{rate:g}" if rate else "below the lowest rate"]
         for (database, computes), rate in capacity.items()])
    return lines


def stop_on_sigterm() -> None:
    """SIGTERM ends the run as Ctrl-C does: the servers it started are stopped on the way out."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str]) -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    parser.add_argument("--rates", default=",".join(str(rate) for rate in RATES))
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--window", type=float, default=30, help="seconds of each rate")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "nova_capacity.md")
    args = parser.parse_args(argv)
    rates = tuple(int(rate) for rate in args.rates.split(","))
    rungs: list[Rung] = []
    with tempfile.TemporaryDirectory(prefix="placedock-capacity-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        servers: dict[str, Any] = {}
        for kind in args.databases.split(","):
            for computes in (int(size) for size in args.sizes.split(",")):
                with database_url(kind, workdir, stack, servers) as url:
                    rungs += ladder(kind, computes, url, workdir, rates, args.window)
                args.output.write_text("\n".join(report(rungs, args.window)) + "\n")
    print(args.output.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
