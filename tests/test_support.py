"""Self-tests of the shared test infrastructure (tests/support, tests/conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.support import network
from tests.support.docker_engine import CA_IN_IMAGE, docker, is_ci_stand_in
from tests.support.server import REPO


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_database_survives_stop_and_start(kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(f"{kind}_server")
    url = request.getfixturevalue(f"{kind}_url")
    assert url.startswith(("postgresql+psycopg2://placement:", "mysql+pymysql://placement:"))
    assert f"@127.0.0.1:{server.port}/" in url

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        connection.execute(sa.text("CREATE TABLE kept (name VARCHAR(20))"))
        connection.execute(sa.text("INSERT INTO kept VALUES ('\U0001F600')"))  # 4-byte character

    server.stop()
    with pytest.raises(sa.exc.OperationalError):
        engine.connect().close()

    server.start()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT name FROM kept")).scalar() == "\U0001F600"


def test_mariadb_urls(mariadb_server, mariadb_url: str) -> None:
    name = mariadb_url.rsplit("/", 1)[1].split("?")[0]
    assert mariadb_url.endswith("?charset=utf8mb4")
    assert "charset" not in mariadb_server.url_without_charset(name)
    engine = sa.create_engine(mariadb_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        charset = connection.execute(sa.text(
            "SELECT default_character_set_name FROM information_schema.schemata "
            "WHERE schema_name = :name"), {"name": name}).scalar()
    assert charset == "utf8mb4"


def test_password_is_required(postgresql_server, mariadb_server) -> None:
    for server in (postgresql_server, mariadb_server):
        name = "t_wrong_password"
        url = server.create_database(name).replace(server.password, "not-the-password")
        try:
            with pytest.raises(sa.exc.OperationalError):
                sa.create_engine(url, poolclass=sa.pool.NullPool).connect().close()
        finally:
            server.drop_database(name)


def test_base_image_runs(base_image: str) -> None:
    result = docker("run", "--rm", "--network", "none", base_image, "true")
    assert result.returncode == 0, result.stderr
    if is_ci_stand_in(base_image):
        check = docker("run", "--rm", "--network", "none", base_image, "sh", "-c",
                       f'test -s {CA_IN_IMAGE} && test "$SSL_CERT_FILE" = {CA_IN_IMAGE}'
                       ' && test ! -e /usr/share/man/man1/ls.1.gz')
        assert check.returncode == 0, check.stderr


def test_test_ports_never_collide() -> None:
    """Ports claimed by two test processes at once are disjoint, outside the ephemeral range,
    and never one a server already listens on."""
    ephemeral = network._ephemeral_range()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        # The other process holds its ports until told to go (its stdin closes).
        script = ("import sys; from tests.support import network; "
                  "print(' '.join(str(network.free_port()) for _ in range(300)), flush=True); "
                  "sys.stdin.read()")
        other = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        mine = [network.free_port() for _ in range(300)]
        assert other.stdout is not None
        theirs = [int(port) for port in other.stdout.readline().split()]
        other.communicate(timeout=60)
    assert len(set(mine)) == 300 and len(set(theirs)) == 300
    assert not set(mine) & set(theirs)
    assert not any(port in ephemeral for port in mine + theirs)
    first = network.free_ports(5)
    assert not set(range(first, first + 5)) & set(mine)
    with socket.socket() as taken:
        port = next(port for port in network.WINDOW if port not in mine + theirs)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert not network._claim(port), "a port a server listens on was handed out"
