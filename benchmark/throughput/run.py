"""placedock's benchmark: `.venv/bin/python -m benchmark.throughput.run` from the repository's root.

Prints the results as Markdown and writes them to benchmark/throughput/results.md, with a bar chart
in benchmark/throughput/chart.png (or into --output). `--quick` (CI) produces every row and goal
line from short windows, fewer providers and one run per point. It starts a Docker engine only if
none answers (and then stops it), a PostgreSQL server of its own, and every server it measures, each
stopped by its PID; nothing is installed. See docs/performance.md, "Benchmark", for the method.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmark.support import processes, wrk
from benchmark.throughput import balancer, batches, configs, measure, report, seed, starts
from benchmark.throughput.configs import Config
from benchmark.throughput.repeats import Row
from tests.support.databases import PG_BIN, PostgreSQLServer
from tests.support.docker_engine import (
    DEFAULT_BASE,
    build_image,
    docker,
    ensure_base_image,
    ensure_engine,
)
from tests.support.network import free_port
from tests.support.server import base_environment

HERE = Path(__file__).resolve().parent
BASE_IMAGE = DEFAULT_BASE
OLDSTABLE = "debian:bookworm-slim"  # Debian 12, Python 3.11: measured beside the default
OLDSTABLE_IMAGE = f"{starts.IMAGE}:bookworm"
ENDPOINTS = {
    "GET /": "/",
    "GET /resource_providers": "/resource_providers",
    "GET /allocation_candidates": seed.ALLOCATION_CANDIDATES,
}
VARIANTS = [(2, 1), (2, 2), (2, 4), (3, 1), (4, 1)]  # placedock's own worker counts tried


@dataclass(frozen=True)
class Mode:
    """How much the benchmark measures: the README's full run, or CI's quick one."""

    repeats: int  # of every throughput point, interleaved across the configurations
    warmup_s: float
    measure_s: float
    providers: int
    start_repeats: int
    balancer_rounds: int  # of the keep-alive experiment behind Apache


FULL = Mode(repeats=3, warmup_s=2, measure_s=5, providers=1000, start_repeats=3,
            balancer_rounds=12)
# CI's: every row and goal line in about 5 minutes; one run per point, so no spread.
QUICK = Mode(repeats=1, warmup_s=1, measure_s=1, providers=200, start_repeats=1,
             balancer_rounds=2)


def log(message: str) -> None:
    print(f"benchmark: {message} (load average {processes.load_average()})", file=sys.stderr,
          flush=True)


def check_prerequisites() -> None:
    missing = [what for what, present in (
        ("wrk", shutil.which("wrk") is not None),
        ("PostgreSQL 15", (PG_BIN / "postgres").exists()),
        ("root (PostgreSQL runs as its own user, dockerd may be started)", os.geteuid() == 0),
        ("uwsgi in this virtualenv", Path(configs.uwsgi()).exists()),
        ("jemalloc (Debian package libjemalloc2)", bool(configs.jemalloc_library())),
        ("Apache (Debian package apache2)", Path(balancer.APACHE).exists()),
    ) if not present]
    if missing:
        raise SystemExit(f"benchmark: missing: {', '.join(missing)}")


def build_images(stack: ExitStack) -> list[report.Image]:
    """Build the image on the default base and on Debian 12's (cached layers make this quick),
    each tag removed when the run ends; their sizes and their bases'."""
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=configs.REPO, capture_output=True,
                              text=True, check=False).stdout.strip() or "unknown"
    built = []
    for name, base in ((starts.IMAGE, BASE_IMAGE), (OLDSTABLE_IMAGE, OLDSTABLE)):
        ensure_base_image(base)
        build_image(configs.REPO, name, {"REVISION": revision, "BASE_IMAGE": base})
        stack.callback(docker, "rmi", name)
        shown = name.replace(starts.IMAGE, starts.IMAGE_NAME)
        built.append(report.Image(shown, _size(name), base, _size(base)))
    return built


def _size(image: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)


def database(postgresql: PostgreSQLServer) -> str:
    """A new database, its URL telling PostgreSQL not to wait for the disk at each commit:
    writes then measure placement, not how fast this machine's shared disk flushes."""
    return postgresql.create_database("placement") + "?options=-c%20synchronous_commit%3Doff"


def seeded(settings: measure.Settings, base: dict[str, str], count: int) -> list[str]:
    """Migrate the database (placedock with DB_SYNC), then make the providers in-process."""
    port = free_port()
    env = measure.server_env(base, settings, port)
    with measure.serving(configs.placedock(), {**env, "DB_SYNC": "True"}, port, settings):
        pass
    with measure.in_process(configs.limit(settings.cores), env, settings) as workers:
        return workers.seed(count)


def unfrozen(workdir: Path) -> Config:
    """placedock on the shipped ini changed to serve its app without gc.freeze()."""
    ini = workdir / "unfrozen.ini"
    ini.write_text(configs.unfrozen_ini(configs.SHIPPED_INI.read_text()))
    return configs.unfrozen(ini)


def configurations(cores: int, workdir: Path) -> list[Config]:
    """Every configuration, in table order: placedock's defaults first."""
    default = configs.default_workers()
    variants = [configs.placedock(p, t) for p, t in VARIANTS if f"{p}x{t}" != default]
    return [configs.placedock(), configs.metrics_off(), *variants,
            *configs.images(starts.IMAGE, OLDSTABLE_IMAGE), *configs.allocators(),
            unfrozen(workdir),
            configs.limit(cores), configs.image_limit(cores, starts.IMAGE), configs.original(),
            configs.upstream(), configs.openstack_helm()]


def reads(config: Config, settings: measure.Settings,
          base: dict[str, str]) -> measure.Measured:
    """Every read endpoint against a fresh start of the configuration; for the CPU goal's rows,
    a closed batch of allocation candidates after them."""
    port = free_port()
    env = measure.server_env(base, settings, port)
    batch = config.name in report.BATCH_ROWS
    if config.in_process:
        with measure.in_process(config, env, settings) as workers:
            measured = measure.measure_limit_reads(config, workers, ENDPOINTS, settings)
            if batch:
                measured.batch = batches.limit(workers, seed.ALLOCATION_CANDIDATES)
            return measured
    with measure.serving(config, env, port, settings) as server:
        measured = measure.measure_reads(config, server, port, ENDPOINTS, settings)
        if batch:
            measured.batch = batches.server(
                f"http://127.0.0.1:{port}{seed.ALLOCATION_CANDIDATES}", lambda: [server.pid])
        return measured


def writes(config: Config, providers: list[str], settings: measure.Settings,
           base: dict[str, str]) -> wrk.LoadResult:
    """Allocations written per second (PUT /allocations/{new consumer}), from a fresh start."""
    port = free_port()
    env = measure.server_env(base, settings, port)
    if config.in_process:
        with measure.in_process(config, env, settings) as workers:
            return measure.measure_limit_writes(workers, providers, settings)
    with measure.serving(config, env, port, settings) as server:
        return measure.measure_writes(server, port, providers, settings)


def measure_all(settings: measure.Settings, base: dict[str, str], providers: list[str],
                repeats: int) -> list[Row]:
    """Reads for every configuration, `repeats` rounds of them, then writes (they change the
    data) the same way; each round visits every configuration in turn."""
    rows = [Row(config) for config in configurations(settings.cores, settings.workdir)]
    for repeat in range(1, repeats + 1):
        for row in rows:
            row.runs.append(reads(row.config, settings, base))
            log(f"{row.config.name}: reads measured ({repeat}/{repeats})")
    for repeat in range(repeats):
        for row in rows:
            row.runs[repeat].results[measure.WRITES] = writes(row.config, providers, settings,
                                                                 base)
            seed.forget_allocations(settings.database_url)
            log(f"{row.config.name}: writes measured ({repeat + 1}/{repeats})")
    return rows


def context_lines(settings: measure.Settings, load_before: str, mode: Mode) -> list[str]:
    version = metadata.version("openstack-placement")
    query = seed.ALLOCATION_CANDIDATES.split("?", 1)[1]
    return [
        (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores "
         f"(load average before: {load_before}; after: {processes.load_average()}); "
         f"placement {version}; PostgreSQL 15 on 127.0.0.1 (commits not waiting for the disk) "
         f"holding {mode.providers:,} providers shaped as in upstream's performance job; "
         f"`GET /allocation_candidates?{query}` (upstream's query) returns all of them."),
        (f"`wrk --latency -t 1 -c {settings.connections}`, {mode.repeats} runs per point, "
         "the configurations taken in turn in each round: "
         f"{settings.warmup_s:g} s of warm-up, then the 2xx responses completed in the next "
         f"{settings.measure_s:g} s are counted; p50 / p99 are wrk's, over the whole run "
         "(the median of the runs). "
         "CPU/req: the user + system time of the server's processes (uwsgi's master, workers "
         "and mule) over the counted window, divided by the requests it completed; figures are "
         "the median (min-max) of the runs. The "
         f"in-process limit: placement's WSGI app loaded once and {settings.cores} processes "
         "forked from it, each calling it in a loop (no HTTP, no queue: its latencies are "
         "service times; its CPU/req is the leader's and workers'). Load: the highest "
         "1-minute load average at the end of a point; others: the most CPU that programs "
         "other than the benchmark's took; stolen: the most the hypervisor took."),
    ]


def run(workdir: Path, stack: ExitStack, mode: Mode) -> report.Results:
    load_before = processes.load_average()
    base = base_environment()
    log("image")
    engine = ensure_engine()
    if engine is None:
        raise SystemExit("benchmark: no Docker engine answers and none can be started")
    stack.callback(engine.stop)  # only stops a dockerd we started
    images = build_images(stack)
    log("start times")
    start_times = starts.measure(workdir, base, mode.start_repeats, BASE_IMAGE)
    postgresql = PostgreSQLServer(workdir / "postgresql")
    stack.callback(postgresql.stop)
    postgresql.start()
    settings = measure.Settings(database(postgresql), workdir, warmup_s=mode.warmup_s,
                                   measure_s=mode.measure_s, cores=os.cpu_count() or 2,
                                   database_pid=postgresql.pid)
    log(f"seeding {mode.providers} providers")
    started = time.monotonic()
    providers = seeded(settings, base, mode.providers)
    log(f"seeded in {time.monotonic() - started:.0f} s")
    rows = measure_all(settings, base, providers, mode.repeats)
    log("keep-alive behind Apache")
    behind_apache = balancer.measure_all(settings, base, mode.balancer_rounds)
    for outcome in behind_apache:
        log(f"behind Apache, {outcome.variant.name}: {dict(outcome.counts)} {outcome.details}")
    return report.Results(context_lines(settings, load_before, mode), start_times, images, rows,
                          list(ENDPOINTS), behind_apache, balancer.method(mode.balancer_rounds))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.throughput.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short windows, fewer providers and repeats (CI)")
    parser.add_argument("--output", type=Path, default=HERE,
                        help="the folder for results.md and chart.png "
                             "(default: benchmark/throughput/)")
    arguments = parser.parse_args(argv)
    mode = QUICK if arguments.quick else FULL
    check_prerequisites()
    workdir = Path(tempfile.mkdtemp(prefix="placedock-benchmark-"))
    try:
        with ExitStack() as stack:
            results = run(workdir, stack, mode)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report.markdown(results)
    arguments.output.mkdir(parents=True, exist_ok=True)
    (arguments.output / "results.md").write_text(text)
    report.chart(results, arguments.output / "chart.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
