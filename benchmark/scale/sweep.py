"""placedock's size sweep: `.venv/bin/python -m benchmark.scale.sweep` from the repository's root.

Grows one cloud of real-shaped compute nodes (benchmark.scale.seed) through each size on
PostgreSQL and on MariaDB, and at each size measures placedock's defaults: CPU per request, p50 /
p99 and response size of the requests nova makes (benchmark.scale.nova_requests), and the
peak PSS of a worker; beside them, nova's allocation-candidates request and the unlimited one on
placement's own defaults for the options placedock changes (no candidate limit). Then the
wide tree (benchmark.scale.wide_tree). Writes benchmark/scale/scale.md and benchmark/scale/scale.png
(or into --output). `--quick` (CI): 100 and 1,000 nodes, short cells. It starts and stops its own
database servers and placedock servers, each by its PID; nothing is installed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmark.scale import check, nova_requests, report, seed, servers, wide_tree
from benchmark.scale.load import Budget, Cell, run_cell, worker_pids
from benchmark.scale.report import SizeResult
from benchmark.support import processes
from placedock import defaults
from tests.support.databases import PG_BIN

HERE = Path(__file__).resolve().parent
# The allocation-candidates requests are measured a second time with placement's own defaults
# for the options placedock changes (placedock.defaults.PLACEMENT_OPTIONS).
UPSTREAM = {wide_tree.GUARD: "-1", wide_tree.OPTIMIZE: "false", wide_tree.STRATEGY: "depth-first"}


@dataclass(frozen=True)
class Mode:
    sizes: tuple[int, ...]
    reads: Budget
    writes: Budget
    wide_timeout: float  # the client's, for the wide tree
    guard: int  # the max_allocation_candidates the wide tree tries
    quick: bool


FULL = Mode((100, 1000, 10000, 50000), Budget(seconds=6, least=2, most=200, timeout=300),
            Budget(seconds=6, least=20, most=400, timeout=60, retries=3), wide_timeout=60,
            guard=1000, quick=False)
QUICK = Mode((100, 1000), Budget(seconds=1, least=2, most=30, timeout=60),
             Budget(seconds=1, least=5, most=40, timeout=60, retries=3), wide_timeout=30,
             guard=1000, quick=True)


def log(message: str) -> None:
    print(f"scale: {message} (load average {processes.load_average()})", file=sys.stderr,
          flush=True)


def check_prerequisites() -> None:
    missing = [what for what, present in (
        ("PostgreSQL 15", (PG_BIN / "postgres").exists()),
        ("MariaDB (mariadbd)", shutil.which("mariadbd") is not None),
        ("root (PostgreSQL runs as its own user)", os.geteuid() == 0),
    ) if not present]
    if missing:
        raise SystemExit(f"scale: missing: {', '.join(missing)}")


def measure_size(database: str, url: str, workdir: Path, nodes: int, seeded: seed.Seeded,
                 mode: Mode, moves: nova_requests.Moves, database_pid: int) -> SizeResult:
    reads = nova_requests.reads(nodes)
    cells: dict[str, Cell] = {}
    labels = list(reads)
    idle = 0
    while labels:
        # A fresh server after a timeout: its worker may still be busy with the request.
        with servers.placedock(url, workdir) as (server, port):
            if not idle:
                time.sleep(0.5)
                idle = max(map(processes.pss_bytes, worker_pids(server)), default=0)
            while labels:
                label = labels.pop(0)
                request = reads[label]
                cells[label] = run_cell(label, port, lambda _, r=request: r, mode.reads, server,
                                        database_pid)
                log(f"{database} {nodes:,}: {report.cell_line(cells[label])}")
                if cells[label].outcomes["timeout"]:
                    break
    with servers.placedock(url, workdir) as (server, port):
        checked = check.check(port, seeded, cells[nova_requests.PROVIDERS].first_body)
        cells[nova_requests.CLAIMS] = run_cell(
            nova_requests.CLAIMS, port, lambda index: nova_requests.claim(nodes, index),
            mode.writes, server, database_pid)
        log(f"{database} {nodes:,}: {report.cell_line(cells[nova_requests.CLAIMS])}")
        cells[nova_requests.MOVES] = run_cell(
            nova_requests.MOVES, port, lambda _: moves.request(nodes), mode.writes, server,
            database_pid)
        log(f"{database} {nodes:,}: {report.cell_line(cells[nova_requests.MOVES])}")
    upstream: dict[str, Cell] = {}
    for label in (nova_requests.NOVA, nova_requests.UNLIMITED):
        with servers.placedock(url, workdir, UPSTREAM) as (server, port):
            upstream[label] = run_cell(label, port, lambda _, r=reads[label]: r, mode.reads,
                                       server, database_pid)
        log(f"{database} {nodes:,} placement's defaults: "
            f"{report.cell_line(upstream[label])}")
    return SizeResult(database, nodes, seeded, checked, cells, upstream, idle,
                      processes.load_average())


def sweep(database: str, workdir: Path, mode: Mode) -> tuple[list[SizeResult],
                                                             list[wide_tree.WideResult]]:
    server = servers.database_server(database, workdir)
    try:
        server.start()
        url = servers.create_database(server, "placement")
        servers.migrate(url, workdir)
        results = []
        moves = nova_requests.Moves()
        seeded_so_far = 0
        for nodes in mode.sizes:
            seeded = seed.seed(url, seeded_so_far, nodes)
            seeded_so_far = nodes
            log(f"{database}: seeded {nodes:,} nodes ({seeded.providers:,} providers) in "
                f"{seeded.seconds:.1f} s")
            results.append(measure_size(database, url, workdir, nodes, seeded, mode, moves,
                                        server.pid or 0))
        wide: list[wide_tree.WideResult] = []
        if database == servers.POSTGRESQL:
            wide_url = servers.create_database(server, "wide")
            servers.migrate(wide_url, workdir)
            wide = wide_tree.run(wide_url, workdir, mode.guard, mode.wide_timeout, mode.quick)
            for result in wide:
                log(f"wide tree: {result}")
        return results, wide
    finally:
        server.stop()


def context(load_before: str, mode: Mode) -> list[str]:
    return [
        (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores (load "
         f"average before: {load_before}; after: {processes.load_average()}); placement "
         f"{metadata.version('openstack-placement')}; placedock's defaults (startup.sh natively, "
         "2 processes x 2 threads) on PostgreSQL 15 and on MariaDB, both on 127.0.0.1 with "
         "commits not waiting for the disk."),
        (f"Each cell: {mode.reads.clients} clients, a new connection per request, reads until "
         f"{mode.reads.seconds:g} s have passed and at least {mode.reads.least} were sent (at "
         f"most {mode.reads.most}), writes likewise ({mode.writes.seconds:g} s, "
         f"{mode.writes.least} to {mode.writes.most}); every request bounded by a "
         f"{mode.reads.timeout:g} s client timeout. CPU ms/req: the user + system time of "
         "placedock's processes (uwsgi's master, workers and metrics mule) over the cell, "
         "divided by its 2xx responses; DB ms/req the same for the database server. Worker "
         "PSS: the largest one uwsgi worker reached."),
        ("placedock's defaults here include "
         + (", ".join(f"`{name}={value}`" for name, value in defaults.PLACEMENT_OPTIONS.items())
            or "none of placement's options")
         + "; the rows marked (placement's defaults) set "
         + ", ".join(f"`{name}={value}`" for name, value in UPSTREAM.items()) + "."),
    ]


def write(results: report.Results, output: Path) -> None:
    text = report.markdown(results)
    output.mkdir(parents=True, exist_ok=True)
    (output / "scale.md").write_text(text)
    report.chart(results, output / "scale.png")
    print(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.scale.sweep", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 nodes, short cells")
    parser.add_argument("--output", type=Path, default=HERE,
                        help="the folder for scale.md and scale.png (default: benchmark/scale/)")
    parser.add_argument("--databases", default=",".join(servers.DATABASES),
                        help="which of PostgreSQL,MariaDB to sweep (default: both)")
    parser.add_argument("--save", type=Path,
                        help="also keep the results in this file (pickle), for --merge")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="SAVED",
                        help="measure nothing: write the report of runs kept with --save (one "
                             "run per database, run at the same time)")
    arguments = parser.parse_args(argv)
    if arguments.merge:
        write(report.merge([pickle.loads(path.read_bytes()) for path in arguments.merge]),
              arguments.output)
        return 0
    mode = QUICK if arguments.quick else FULL
    databases = [name for name in arguments.databases.split(",") if name]
    unknown = [name for name in databases if name not in servers.DATABASES]
    if unknown:
        raise SystemExit(f"scale: --databases: {', '.join(unknown)} is not one of "
                         f"{', '.join(servers.DATABASES)}")
    check_prerequisites()
    # A stop (SIGTERM) unwinds like an error: every server is stopped by its PID on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = processes.load_average()
    workdir = Path(tempfile.mkdtemp(prefix="placedock-scale-"))
    sizes: list[SizeResult] = []
    wide: list[wide_tree.WideResult] = []
    try:
        for database in databases:
            measured, wide_here = sweep(database, workdir, mode)
            sizes += measured
            wide += wide_here
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = report.Results(context(load_before, mode), sizes, wide, mode.guard,
                                   mode.wide_timeout)
    if arguments.save:
        for size in sizes:  # the bodies kept for the checks (150 MB at 50,000 nodes) are done
            for cell in [*size.cells.values(), *size.upstream.values()]:
                cell.first_body = b""
        arguments.save.write_bytes(pickle.dumps(results))
    write(results, arguments.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
