"""Shared fixtures: placedock served natively, real PostgreSQL / MariaDB on 127.0.0.1, a Docker
engine, the base image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.containers import IMAGE, Containers
from tests.support.databases import PG_BIN, MariaDBServer, PostgreSQLServer
from tests.support.docker_engine import DEFAULT_BASE as BASE_IMAGE
from tests.support.docker_engine import (
    DockerEngine,
    build_image,
    docker,
    ensure_base_image,
    ensure_engine,
)
from tests.support.network import free_port
from tests.support.server import QUICK_START, REPO, Server
from tests.support.skips import require


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """placedock on the quick start's settings, its sqlite in the test's folder (a module that
    needs other settings defines its own ``server``)."""
    running = Server(tmp_path, free_port(), {**QUICK_START,
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    running.start().wait_ready()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgresql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgreSQLServer]:
    require((PG_BIN / "postgres").exists() and os.geteuid() == 0,
            "PostgreSQL 15 (Debian package postgresql; tests run as root)")
    server = PostgreSQLServer(tmp_path_factory.mktemp("postgresql"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    require(shutil.which("mariadbd") is not None and os.geteuid() == 0,
            "MariaDB (Debian package mariadb-server; tests run as root)")
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()


def _fresh_database(server: PostgreSQLServer | MariaDBServer) -> Iterator[str]:
    """A new, uniquely named, empty database; dropped afterwards (restarting the server if a
    test left it stopped)."""
    server.start()  # no-op when running
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    yield url
    server.start()
    server.drop_database(name)


@pytest.fixture
def postgresql_url(postgresql_server: PostgreSQLServer) -> Iterator[str]:
    yield from _fresh_database(postgresql_server)


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> Iterator[str]:
    yield from _fresh_database(mariadb_server)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def fresh_database(request: pytest.FixtureRequest,
                   tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A function making new empty databases of one kind (each test runs once per kind), each
    a URL; a sqlite one is a file not there yet, in a folder of its own."""
    if request.param == "sqlite":
        def sqlite_file() -> str:
            folder = tmp_path / uuid.uuid4().hex
            folder.mkdir()
            return f"sqlite:///{folder / 'placement.sqlite'}"

        yield sqlite_file
        return
    server = request.getfixturevalue(f"{request.param}_server")
    names: list[str] = []

    def database() -> str:
        names.append(f"f{uuid.uuid4().hex[:12]}")
        return server.create_database(names[-1])

    yield database
    for name in names:
        server.drop_database(name)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    engine = ensure_engine()
    require(engine is not None, "a Docker engine (docker info, or dockerd we may start as root)")
    assert engine is not None
    yield engine
    engine.stop()  # only stops a dockerd this session started


@pytest.fixture(scope="session")
def base_image(docker_engine: DockerEngine) -> str:
    """The Dockerfile's base (debian:trixie-slim): the real one if present, else the locally
    made CI stand-in."""
    ensure_base_image(BASE_IMAGE)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def image(base_image: str) -> str:
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=False).stdout.strip() or "unknown"
    started = time.monotonic()
    build_image(REPO, IMAGE, {"REVISION": revision})
    took = time.monotonic() - started
    docker("tag", IMAGE, f"{IMAGE}:revision")  # the README's plain build re-tags placedock
    size = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    base = int(docker("image", "inspect", "--format", "{{.Size}}", base_image).stdout)
    print(f"\nimage {IMAGE}: built in {took:.0f} s; {size / 1e6:.1f} MB, "
          f"{(size - base) / 1e6:.1f} MB over {base_image} ({base / 1e6:.1f} MB)")
    return IMAGE


@pytest.fixture
def containers() -> Iterator[Containers]:
    started = Containers()
    yield started
    started.remove_all()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Every figure the tests printed (counted outcomes, times, sizes), in the run's output even
    though pytest captured it: a passing test's measurements are what the README quotes."""
    lines: list[str] = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            wanted = {f"Captured stdout {report.when}", f"Captured stderr {report.when}"}
            printed = "\n".join(text for title, text in report.sections
                                if title in wanted and report.when in {"setup", "call"})
            lines += [f"{report.nodeid}: {line.strip()}" for line in printed.splitlines()
                      if line.strip()]
    if lines:
        terminalreporter.section("figures the tests measured")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skip there is a failure of the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped:
        print(f"\nCI: {skipped} tests were skipped; in CI every test must run", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
