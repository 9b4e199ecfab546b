"""The benchmark, in CI's quick mode: it finishes and reports every row and every goal line
(never timed: the figures are the README's, from the full run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmark.support import processes
from benchmark.support.wrk import LoadResult
from benchmark.throughput import balancer, seed
from benchmark.throughput.configs import (
    IMAGE_LIMIT,
    IMAGE_ROW,
    LIMIT,
    PLACEDOCK,
    SHIPPED_INI,
    unfrozen_ini,
)
from benchmark.throughput.containers import engine_pids, host_pid
from benchmark.throughput.repeats import Spread
from benchmark.throughput.report import BATCH_ROWS
from benchmark.throughput.run import VARIANTS
from tests.support.databases import PG_BIN
from tests.support.docker_engine import DockerEngine, docker
from tests.support.server import REPO
from tests.support.skips import require

COMMAND = ".venv/bin/python -m benchmark.throughput.run"  # the README's full run
QUICK = ".venv/bin/python -m benchmark.throughput.run --quick"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = ["## Start", "## Throughput, CPU per request, latency and memory",
            "## CPU per allocation-candidates request, closed batches", "## Writes",
            "## Spread across the repeats", "## Keep-alive behind Apache's balancer", "## Image",
            "## Goals"]
START_ROWS = [
    "| docker run, empty sqlite, DB_SYNC=True |",
    "| docker run, sqlite at head, DB_SYNC=True |",
    "| startup.sh natively, empty sqlite, DB_SYNC=True |",
    "| startup.sh natively, sqlite at head, DB_SYNC=True |",
    "| floor: plain uwsgi natively, sqlite at head |",
    "| engine alone: docker run --rm of the base running `true` |",
]
IMAGE_ROWS = ["| `placedock-benchmark` | ", "| `placedock-benchmark:bookworm` | "]
# Each variant's row, with every request it sent counted in one column or another.
BALANCER_ROWS = [f"| {variant.name} | " for variant in balancer.VARIANTS]
SPREAD_ROWS = ["| GET / |", "| GET /resource_providers |", "| GET /allocation_candidates |",
               "| PUT /allocations |"]
# Each configuration has a row in the throughput table and one in the writes table.
CONFIGURATIONS = [LIMIT, IMAGE_LIMIT, "original placedock (2x10)", "upstream docs (--http, 2x10)",
                  "openstack-helm (1x1)", IMAGE_ROW,
                  "image: bookworm, Python 3.11"]
GOALS = ["GET /allocation_candidates: placedock's CPU per request",
         "GET /: placedock", "total PSS under GET /allocation_candidates load",
         "startup.sh natively, empty sqlite", "docker run, empty sqlite", "image:",
         "metrics' CPU per request"]


def test_the_quick_benchmark_reports_every_row_and_goal(docker_engine: DockerEngine,
                                                        base_image: str, tmp_path: Path) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian package wrk)")
    require((PG_BIN / "postgres").exists() and os.geteuid() == 0,
            "PostgreSQL 15 (Debian package postgresql; tests run as root)")
    require(Path(balancer.APACHE).exists(), "Debian's apache2")
    assert QUICK.startswith(COMMAND)
    result = subprocess.run(["bash", "-c", f"{QUICK} --output {tmp_path}"], cwd=REPO,
                            capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    table = (tmp_path / "results.md").read_text()
    assert table.strip() in result.stdout
    lines = table.splitlines()
    assert [section for section in SECTIONS if section not in lines] == []
    missing = [row for row in START_ROWS + IMAGE_ROWS + SPREAD_ROWS + BALANCER_ROWS
               if not any(line.startswith(row) for line in lines)]
    assert missing == [], f"rows missing: {missing}"
    for row in BALANCER_ROWS:
        cells = next(line for line in lines if line.startswith(row)).split(" | ")[1:-1]
        requests, counts = int(cells[0]), [int(cell) for cell in cells[1:]]
        assert requests == sum(counts) >= balancer.CLIENTS, f"{row}: {cells}"
    default = table.split("**placedock defaults (", 1)[1].split(")", 1)[0]
    names = [f"**placedock defaults ({default})**", f"placedock {default}, metrics off",
             f"placedock {default}, MALLOC_ARENA_MAX=2", f"placedock {default}, jemalloc",
             f"placedock {default}, without gc.freeze",
             *CONFIGURATIONS, *(f"placedock {p}x{t}" for p, t in VARIANTS if f"{p}x{t}" != default)]
    # The closed batches' table has one more row for each of its configurations.
    batch = {f"**placedock defaults ({default})**" if name == PLACEDOCK else name
             for name in BATCH_ROWS}
    counts = {name: sum(line.startswith(f"| {name} |") for line in lines) for name in names}
    expected = {name: 2 + (name in batch) for name in names}
    assert counts == expected, "rows per configuration"
    goal_lines = table.split("## Goals", 1)[1].strip().splitlines()
    assert all(line.startswith(("- met: ", "- NOT MET: ")) for line in goal_lines), goal_lines
    unreported = [goal for goal in GOALS if not any(goal in line for line in goal_lines)]
    assert unreported == [], f"goal lines missing: {unreported}"
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_spread_is_its_median_and_range() -> None:
    spread = Spread((10.0, 12.0, 8.0))
    assert (spread.median, spread.low, spread.high) == (10.0, 8.0, 12.0)
    assert spread.relative == 0.4
    assert Spread(()).relative == 0.0


def test_cpu_per_request_is_the_servers_cpu_over_the_requests_counted() -> None:
    result = LoadResult(rate=100.0, p50_ms=1.0, p99_ms=2.0, requests=500, server_cpu_s=0.25)
    assert result.cpu_ms_per_request == 0.5
    assert LoadResult(rate=0.0, p50_ms=0.0, p99_ms=0.0, requests=0).cpu_ms_per_request == 0.0


def test_the_unfrozen_ini_differs_from_the_shipped_one_only_in_the_module() -> None:
    shipped = SHIPPED_INI.read_text()
    removed = set(shipped.splitlines()) - set(unfrozen_ini(shipped).splitlines())
    assert removed == {"module = placedock.wsgi:application"}


def test_a_process_below_two_roots_counts_once(tmp_path: Path) -> None:
    """A container's server is below the engine's shim and is measured as a root of its own."""
    ready = tmp_path / "ready"
    burn = f"sum(range(3 * 10**6)); open({str(ready)!r}, 'w').close(); import time; time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", burn]) as child:
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                assert child.poll() is None and time.monotonic() < deadline, "never got ready"
                time.sleep(0.01)
            spent = processes.jiffies([child.pid])
            assert spent > 0
            assert processes.tree_jiffies([child.pid, child.pid]) == spent
            assert processes.tree_jiffies([os.getppid(), child.pid]) >= spent
        finally:
            child.kill()


def test_the_engine_processes_include_the_containers_shim(base_image: str) -> None:
    name = f"placedock-test-engine-{os.getpid()}"
    docker("run", "-d", "--rm", "--name", name, base_image, "sleep", "60")
    try:
        server = host_pid(name)
        stat = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
        shim = int(stat[1])  # the parent of a container's first process
        assert shim in engine_pids()
        assert server not in engine_pids()
    finally:
        docker("rm", "-f", name)


def test_forgetting_allocations_empties_allocations_and_consumers_only(postgresql_url: str
                                                                       ) -> None:
    import sqlalchemy
    from sqlalchemy.engine import make_url

    from placedock import database

    database.migrate(make_url(postgresql_url), lambda line: None)
    engine = sqlalchemy.create_engine(postgresql_url)
    count = "SELECT (SELECT count(*) FROM allocations), (SELECT count(*) FROM consumers), " \
            "(SELECT count(*) FROM resource_providers)"
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "INSERT INTO resource_providers (id, uuid, name, generation, root_provider_id) "
                "VALUES (1, 'a0000000-0000-4000-a000-000000000001', 'cn0', 1, 1);"
                "INSERT INTO projects (id, external_id) VALUES (1, 'p');"
                "INSERT INTO users (id, external_id) VALUES (1, 'u');"
                "INSERT INTO consumers (id, uuid, project_id, user_id, generation) "
                "VALUES (1, 'c0000000-0000-4000-a000-000000000001', 1, 1, 0);"
                "INSERT INTO allocations (id, resource_provider_id, consumer_id, "
                "resource_class_id, used) VALUES (1, 1, 'c0000000-0000-4000-a000-000000000001', "
                "0, 1)"))
            before = connection.execute(sqlalchemy.text(count)).one()
        seed.forget_allocations(postgresql_url)
        with engine.connect() as connection:
            after = connection.execute(sqlalchemy.text(count)).one()
    finally:
        engine.dispose()
    assert before == (1, 1, 1)
    assert after == (0, 0, 1)  # the provider stays
