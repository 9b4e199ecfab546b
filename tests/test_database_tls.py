"""The database over TLS: real PostgreSQL and MariaDB servers that speak TLS only (certificates
from a CA the test makes), placedock serving from them with the server's certificate checked
(libpq's sslmode=verify-full, PyMySQL's ssl_ca with its host name check), DB_SYNC and db-init
included. A wrong CA, a wrong host name or a CA file that cannot be read stop the start at once,
in one line naming the variable, without the password."""

from __future__ import annotations

import os
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.support import http
from tests.support.certificates import Authority, Issued
from tests.support.databases import CERTIFIED_USER, PG_BIN, MariaDBServer, PostgreSQLServer
from tests.support.network import free_port
from tests.support.server import Server, run_startup
from tests.support.skips import require
from tests.test_databases import post_json

CONNECTION = "OS_PLACEMENT_DATABASE__CONNECTION"
BACKENDS = ["postgresql", "mariadb"]
DatabaseServer = PostgreSQLServer | MariaDBServer
# A refused certificate must stop the start well before DB_WAIT_TIMEOUT (set far above this).
REFUSED_WITHIN_S = 20


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("database-tls"), "database-ca")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """Another CA, which signed neither server's certificate."""
    return Authority(tmp_path_factory.mktemp("stranger"), "stranger-ca")


@pytest.fixture(scope="module")
def server_certificate(authority: Authority) -> Issued:
    return authority.issue("database", alt_names="IP:127.0.0.1")  # not "localhost"


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory, server_certificate: Issued,
                authority: Authority) -> Iterator[dict[str, DatabaseServer]]:
    require((PG_BIN / "postgres").exists() and os.geteuid() == 0,
            "PostgreSQL 15 (Debian package postgresql; tests run as root)")
    require(shutil.which("mariadbd") is not None,
            "MariaDB (Debian package mariadb-server; tests run as root)")
    servers: dict[str, DatabaseServer] = {
        "postgresql": PostgreSQLServer(tmp_path_factory.mktemp("pg-tls"), server_certificate,
                                       authority.cert),
        "mariadb": MariaDBServer(tmp_path_factory.mktemp("mariadb-tls"), server_certificate,
                                 authority.cert)}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def with_ca(url: str, backend: str, ca: Path, host: str = "127.0.0.1") -> str:
    """The URL with the server's certificate checked against ``ca`` (and reached as ``host``)."""
    parts = urllib.parse.urlsplit(url.replace("@127.0.0.1:", f"@{host}:"))
    tls = ({"sslmode": "verify-full", "sslrootcert": str(ca)} if backend == "postgresql"
           else {"ssl_ca": str(ca)})
    query = "&".join(filter(None, [parts.query, urllib.parse.urlencode(tls)]))
    return urllib.parse.urlunsplit(parts._replace(query=query))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(tls_servers: dict[str, DatabaseServer],
             backend: str) -> Iterator[tuple[DatabaseServer, str]]:
    server = tls_servers[backend]
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    yield server, url
    server.drop_database(name)


def serving_a_write(folder: Path, url: str, name: str) -> Server:
    """placedock started on ``url`` (DB_SYNC), ready, and a provider ``name`` written through
    it; left running for the caller to stop."""
    placedock = Server(folder, free_port(), {CONNECTION: url, "DB_SYNC": "True",
                                             "OS_API__AUTH_STRATEGY": "noauth2"})
    placedock.start()
    try:
        placedock.wait_ready()
        status, _ = post_json(placedock.url + "/resource_providers", {"name": name})
        assert status == 200
    except BaseException:
        placedock.stop()
        raise
    return placedock


def test_serves_with_the_servers_certificate_checked(
        database: tuple[DatabaseServer, str], backend: str,
        authority: Authority, tmp_path: Path) -> None:
    server, url = database
    # The server takes no connection without TLS (both drivers try TLS first unasked, unchecked).
    if backend == "postgresql":
        plain, _ = refused_start(url + "?sslmode=disable", wait_s=3)
        assert f"error: {CONNECTION}: " in plain and "not reachable" in plain, plain
    else:
        login = {"host": "127.0.0.1", "port": server.port, "user": server.user,
                 "password": server.password, "connect_timeout": 5}
        with pytest.raises(pymysql.err.OperationalError):  # MariaDB says "Access denied"
            pymysql.connect(**login, ssl_disabled=True)
        pymysql.connect(**login, ssl_ca=str(authority.cert)).close()  # the same login, over TLS
    placedock = serving_a_write(tmp_path, with_ca(url, backend, authority.cert), "over-tls")
    try:
        assert http.status(placedock.url + "/resource_providers?name=over-tls") == 200
        if isinstance(server, PostgreSQLServer):
            connections = server.connections()
            print(f"database over TLS ({backend}): placement's connections (address, TLS): "
                  f"{connections}")
            assert connections and all(over_tls for _, over_tls in connections), connections
        # MariaDB runs with require_secure_transport: the 200s above came over TLS.
    finally:
        placedock.stop()


def test_a_client_certificate_the_server_requires(
        tls_servers: dict[str, DatabaseServer], backend: str, authority: Authority,
        tmp_path: Path) -> None:
    """A database user that must show a client certificate (PostgreSQL's `cert` login, MariaDB's
    REQUIRE X509): placedock serves with the URL's certificate and key, and without them the
    start stops in one line naming the variable."""
    server = tls_servers[backend]
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.create_database(name)
    try:
        url = with_ca(server.certified_url(name), backend, authority.cert)
        client = authority.issue(CERTIFIED_USER, alt_names=f"DNS:{CERTIFIED_USER}")
        files = ({"sslcert": str(client.cert), "sslkey": str(client.key)}
                 if backend == "postgresql" else
                 {"ssl_cert": str(client.cert), "ssl_key": str(client.key)})
        line, _ = refused_start(url, wait_s=3)
        print(f"database over TLS ({backend}), no client certificate: {line}")
        assert line.startswith(f"placedock: error: {CONNECTION}: ") and "not reachable" in line
        serving_a_write(tmp_path, f"{url}&{urllib.parse.urlencode(files)}", "certified").stop()
    finally:
        server.drop_database(name)


def refused_start(url: str, wait_s: int = 120) -> tuple[str, float]:
    """The last line of a server's start that fails, and its time."""
    started = time.monotonic()
    result = run_startup([], {CONNECTION: url, "DB_SYNC": "True",
                              "OS_API__AUTH_STRATEGY": "noauth2", "DB_WAIT_TIMEOUT": str(wait_s),
                              "PLACEDOCK_ADDRESS": "127.0.0.1", "PLACEDOCK_PORT": str(free_port()),
                              "PLACEDOCK_METRICS_PORT": str(free_port())}, timeout=wait_s + 60)
    took = time.monotonic() - started
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1], took


@pytest.mark.parametrize("fault", ["another CA", "another host name", "no CA file"])
def test_a_certificate_not_trusted_stops_the_start_in_one_line(
        database: tuple[DatabaseServer, str], backend: str, fault: str,
        authority: Authority, stranger: Authority, tmp_path: Path) -> None:
    server, url = database
    if fault == "another CA":
        bad = with_ca(url, backend, stranger.cert)
    elif fault == "another host name":
        bad = with_ca(url, backend, authority.cert, host="localhost")
    else:
        bad = with_ca(url, backend, tmp_path / "missing-ca.crt")
    line, took = refused_start(bad)
    print(f"database over TLS ({backend}), {fault}: {took:.1f} s: {line}")
    assert line.startswith(f"placedock: error: {CONNECTION}: "), line
    assert server.password not in line
    assert took < REFUSED_WITHIN_S, f"{took:.1f} s: the start waited for the database"
    if fault == "no CA file":
        assert "cannot read" in line and "missing-ca.crt" in line, line
    else:
        assert "certificate is not trusted or not for this host" in line, line


def test_db_init_over_tls(tls_servers: dict[str, DatabaseServer],
                          backend: str, authority: Authority, stranger: Authority) -> None:
    """db-init's administrator connection is checked the same way, and its errors name its own
    variable."""
    server = tls_servers[backend]
    admin = server.admin_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    placement = server.placement_url(name, "a-password-for-this-test")
    refused = run_startup(["db-init"], {"PLACEDOCK_DB_ADMIN_CONNECTION":
                                        with_ca(admin, backend, stranger.cert),
                                        CONNECTION: placement, "DB_WAIT_TIMEOUT": "60"})
    assert refused.returncode != 0
    assert "PLACEDOCK_DB_ADMIN_CONNECTION: " in refused.stderr.strip().splitlines()[-1], \
        refused.stderr
    done = run_startup(["db-init"], {"PLACEDOCK_DB_ADMIN_CONNECTION":
                                     with_ca(admin, backend, authority.cert),
                                     CONNECTION: placement, "DB_WAIT_TIMEOUT": "60"})
    assert done.returncode == 0, done.stderr
    assert "created" in done.stderr + done.stdout
