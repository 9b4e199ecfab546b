"""startup.sh against real PostgreSQL and MariaDB servers on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.error_schema import checked_error
from tests.support.http import get
from tests.support.network import free_port
from tests.support.server import NOAUTH, Server
from tests.test_startup import gabbi

ROUNDS = 3  # of the 8-at-once start, each on a new empty database
AT_ONCE = 8


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request: pytest.FixtureRequest):
    """(server, url) for a new empty database on each real server."""
    server = request.getfixturevalue(f"{request.param}_server")
    name = f"p{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    yield server, url
    server.start()  # a no-op unless the test left it stopped
    server.drop_database(name)


def serve(tmp_path: Path, url: str, **env: str) -> Server:
    return Server(tmp_path, free_port(), {**NOAUTH, "DB_SYNC": "True",
                                          "OS_PLACEMENT_DATABASE__CONNECTION": url, **env})


@contextlib.contextmanager
def at_once(workdir: Path, url: str, count: int = AT_ONCE) -> Iterator[list[Server]]:
    """``count`` instances (1 process x 1 thread each) started together with DB_SYNC on ``url``,
    all ready; stopped afterwards."""
    servers = [serve(workdir / str(i), url, PLACEDOCK_PROCESSES="1", PLACEDOCK_THREADS="1")
               for i in range(count)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(timeout=120)
        yield servers
    finally:
        for server in servers:
            server.stop()


def post_json(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"x-auth-token": "admin", "content-type": "application/json",
                 "openstack-api-version": "placement latest"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_gabbi_tour_passes(tmp_path: Path, database) -> None:
    _, url = database
    server = serve(tmp_path, url).start()
    try:
        server.wait_ready()
        for base in (server.url, server.url + "/placement", server.url):
            result = gabbi(base)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    finally:
        server.stop()
    password = make_url(url).password
    assert password and password not in server.log() and "placement:***@" in server.log()


def test_eight_at_once_on_an_empty_database_all_come_up(tmp_path: Path, request) -> None:
    for backend in ("postgresql", "mariadb"):
        db_server = request.getfixturevalue(f"{backend}_server")
        for round_number in range(ROUNDS):
            name = f"c{uuid.uuid4().hex[:12]}"
            url = db_server.create_database(name)
            with at_once(tmp_path / f"{backend}-{round_number}", url) as servers:
                migrated = sum("database schema: migrated" in s.log() for s in servers)
                assert migrated == 1, f"{backend}: {migrated} instances migrated"
                for server in servers:
                    assert get(server.url + "/resource_providers")[0] == 200
            db_server.drop_database(name)
            print(f"{backend} round {round_number + 1}: {AT_ONCE} of {AT_ONCE} ready")


OLDEST = "b4ed3a175331"  # placement's first schema revision: every later migration runs on it
PROVIDER, CONSUMER = str(uuid.uuid4()), str(uuid.uuid4())


def at_oldest_revision_holding_data(url: str) -> None:
    """The schema as placement's first revision made it, holding a provider with an inventory and
    a consumer's allocation against it (rows as that schema has them)."""
    import sqlalchemy as sa
    from placement.db.sqlalchemy import migration

    from placedock import database

    with database._placement_database(make_url(url)):
        migration.upgrade(OLDEST)
    rows = [
        ("INSERT INTO resource_providers (id, uuid, name, generation, root_provider_id) "
         "VALUES (1, :provider, 'old-compute', 1, 1)"),
        ("INSERT INTO inventories (resource_provider_id, resource_class_id, total, reserved, "
         "min_unit, max_unit, step_size, allocation_ratio) VALUES (1, 0, 8, 0, 1, 8, 1, 1.0)"),
        "INSERT INTO projects (id, external_id) VALUES (1, 'old-project')",
        "INSERT INTO users (id, external_id) VALUES (1, 'old-user')",
        ("INSERT INTO consumers (uuid, project_id, user_id, generation) "
         "VALUES (:consumer, 1, 1, 0)"),
        ("INSERT INTO allocations (resource_provider_id, consumer_id, resource_class_id, used) "
         "VALUES (1, :consumer, 0, 2)"),
    ]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for row in rows:
            connection.execute(sa.text(row), {"provider": PROVIDER, "consumer": CONSUMER})


def test_eight_at_once_migrate_an_old_schema_holding_data_exactly_once(
        tmp_path: Path, database) -> None:
    _, url = database
    at_oldest_revision_holding_data(url)
    with at_once(tmp_path, url) as servers:
        logs = [server.log() for server in servers]
        migrated = [log for log in logs if f"database schema: migrated from {OLDEST} to" in log]
        assert len(migrated) == 1, [line for log in logs for line in log.splitlines()
                                    if "database schema" in line]
        waited = sum("waiting for another instance's migration" in log for log in logs)
        base = servers[-1].url
        inventory = json.loads(get(f"{base}/resource_providers/{PROVIDER}/inventories")[1])
        allocations = json.loads(get(f"{base}/allocations/{CONSUMER}")[1])["allocations"]
        usages = json.loads(get(f"{base}/resource_providers/{PROVIDER}/usages")[1])["usages"]
        print(f"\n{AT_ONCE} at once on {make_url(url).get_backend_name()} at {OLDEST} with data: "
              f"1 migrated, {waited} waited for its lock, all ready")
    assert inventory["inventories"]["VCPU"]["total"] == 8
    assert allocations == {PROVIDER: {"resources": {"VCPU": 2}, "generation": 1}}
    assert usages == {"VCPU": 2}


def test_database_late_is_waited_for(tmp_path: Path, database) -> None:
    db_server, url = database
    db_server.stop()
    server = serve(tmp_path, url, DB_WAIT_TIMEOUT="60")
    late = threading.Timer(15, db_server.start)
    try:
        server.start()
        late.start()
        took = server.wait_ready(timeout=75)
        assert took >= 15
        assert server.running
        waits = [line for line in server.log().splitlines() if "waiting for database" in line]
        assert len(waits) >= 3, server.log()
        print(f"database up after 15 s: placedock ready after {took:.1f} s, {len(waits)} waits")
    finally:
        late.join()
        server.stop()


def test_readiness_follows_the_database(tmp_path: Path, database) -> None:
    db_server, url = database
    server = serve(tmp_path, url).start()
    try:
        server.wait_ready()
        db_server.stop()
        status, body = get(server.url + "/health/ready", token=None)
        assert status == 503, body
        assert "database check failed" in checked_error(body, 503)["detail"]
        db_server.start()
        server.wait_ready(timeout=30)
    finally:
        server.stop()


def test_mysql_url_without_charset_stores_four_byte_names(tmp_path: Path, mariadb_server) -> None:
    name = f"m{uuid.uuid4().hex[:12]}"
    mariadb_server.create_database(name)
    server = serve(tmp_path, mariadb_server.url_without_charset(name)).start()
    try:
        server.wait_ready()
        status, body = post_json(server.url + "/resource_providers", {"name": "cat 🐈 bed"})
        assert status == 200, body
        assert json.loads(body)["name"] == "cat 🐈 bed"
    finally:
        server.stop()
        mariadb_server.drop_database(name)


def test_a_database_500_shows_no_sql(tmp_path: Path, mariadb_server) -> None:
    name = f"s{uuid.uuid4().hex[:12]}"
    mariadb_server.create_database(name)
    url = mariadb_server.url_without_charset(name) + "?charset=utf8"  # 3-byte: a 🐈 fails
    server = serve(tmp_path, url).start()
    try:
        server.wait_ready()
        status, body = post_json(server.url + "/resource_providers", {"name": "cat 🐈 bed"})
        assert status == 500
        text = body.decode()
        for leak in ("INSERT", "resource_providers", "pymysql", "cat ", "%(", "SQL"):
            assert leak not in text, text
        request_id = json.loads(body)["errors"][0]["request_id"]
        assert request_id.startswith("req-")
        time.sleep(0.2)
        assert f"request {request_id}" in server.log() and "INSERT INTO" in server.log()
    finally:
        server.stop()
        mariadb_server.drop_database(name)
