"""The servers of the size sweep: a database server of each kind, and placedock on it.

Both are started and stopped by their own PID (tests.support.databases, tests.support.processes),
as benchmark.throughput.run does. placedock runs as its "placedock defaults" row does:
startup.sh natively, nothing set but the database, noauth2, the address and the ports.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import http
from tests.support.databases import MariaDBServer, PostgreSQLServer
from tests.support.network import free_port
from tests.support.processes import Process
from tests.support.server import STARTUP, base_environment

POSTGRESQL = "PostgreSQL"
MARIADB = "MariaDB"
DATABASES = (POSTGRESQL, MARIADB)
READY_TIMEOUT = 180


def database_server(kind: str, workdir: Path) -> PostgreSQLServer | MariaDBServer:
    return (PostgreSQLServer if kind == POSTGRESQL else MariaDBServer)(workdir / kind.lower())


def create_database(server: PostgreSQLServer | MariaDBServer, name: str) -> str:
    """A new database; commits do not wait for the disk (PostgreSQL's synchronous_commit off,
    InnoDB flushing its log once a second), so that writes measure placement, not this machine's
    shared disk. MariaDB's buffer pool is 1 GiB, as a server that holds a large cloud's tables
    in memory would have it (its packaged 128 MiB holds the 10,000-node cloud but not more)."""
    url = server.create_database(name)
    if isinstance(server, PostgreSQLServer):
        return url + "?options=-c%20synchronous_commit%3Doff"
    subprocess.run(["mariadb", "--no-defaults", f"--socket={server.socket_path}", "-u", "root",
                    "--batch", "-e", "SET GLOBAL innodb_flush_log_at_trx_commit = 2; "
                    "SET GLOBAL innodb_buffer_pool_size = 1073741824;"],
                   check=True, capture_output=True, timeout=120)
    return url


def placedock_env(database_url: str, workdir: Path, port: int,
                  extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**base_environment(), "OS_API__AUTH_STRATEGY": "noauth2",
            "OS_PLACEMENT_DATABASE__CONNECTION": database_url,
            "PLACEDOCK_ADDRESS": "127.0.0.1", "PLACEDOCK_PORT": str(port),
            "PLACEDOCK_METRICS_PORT": str(free_port()),
            "PLACEDOCK_DATA_DIR": str(workdir / f"data-{port}"), **(extra or {})}


class Placedock(Process):
    """startup.sh serving on `port` with `env` (kept: its stats socket's path comes from it)."""

    kind = "placedock"
    stop_signal = signal.SIGINT

    def __init__(self, log_path: Path, env: dict[str, str], port: int) -> None:
        super().__init__(log_path)
        self.env = env
        self.port = port


@contextmanager
def placedock(database_url: str, workdir: Path, extra: dict[str, str] | None = None
              ) -> Iterator[tuple[Placedock, int]]:
    """startup.sh serving on a port of its own, ready (its app loaded); stopped afterwards."""
    port = free_port()
    env = placedock_env(database_url, workdir, port, extra)
    server = Placedock(workdir / f"placedock-{port}.log", env, port)
    server.spawn([str(STARTUP)], env)
    try:
        http.wait_for(f"http://127.0.0.1:{port}/", timeout=READY_TIMEOUT, process=server,
                      since=server.started_at)
        yield server, port
    finally:
        server.stop()


def migrate(database_url: str, workdir: Path) -> None:
    """placedock with DB_SYNC once: the schema at head, and the standard traits and resource
    classes placement syncs into it when it loads."""
    with placedock(database_url, workdir, {"DB_SYNC": "True"}):
        pass
