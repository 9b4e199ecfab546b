"""placedock.db_init: the variables it reads, and the database and user it makes on real
MariaDB and PostgreSQL servers (run twice: the second run must change nothing but the password)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from placedock import db_init, environment
from tests.support.databases import MariaDBServer, PostgreSQLServer


def test_url_is_read_from_its_file_by_the_environment_rule(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("mysql+pymysql://a:b@h/d\n")
    url = db_init.database_url({f"{db_init.PLACEMENT}_FILE": str(secret)}, db_init.PLACEMENT)
    assert (url.username, url.password, url.host, url.database) == ("a", "b", "h", "d")


def test_url_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(environment.ConfigurationError, match="both X and X_FILE"):
        db_init.database_url({"X": "a", "X_FILE": str(tmp_path)}, "X")


def test_url_missing_names_both_forms_and_the_command() -> None:
    with pytest.raises(environment.ConfigurationError,
                       match=r"X: not set \(nor X_FILE\); db-init needs it"):
        db_init.database_url({}, "X")


def test_sqlite_is_refused() -> None:
    with pytest.raises(db_init.DbInitError, match="sqlite needs no database server"):
        db_init.database_url({db_init.PLACEMENT: "sqlite:////tmp/p.sqlite"}, db_init.PLACEMENT)


@pytest.mark.parametrize("url, problem", [
    ("mysql+pymysql://placement:pw@h/place-ment", "database name"),
    ("mysql+pymysql://place'ment:pw@h/placement", "user name"),
    ("mysql+pymysql://placement@h/placement", "no password"),
])
def test_names_that_cannot_be_identifiers_are_refused(url: str, problem: str) -> None:
    with pytest.raises(db_init.DbInitError, match=problem):
        db_init.target(sa.engine.make_url(url))


def test_admin_and_placement_on_different_servers_are_refused() -> None:
    with pytest.raises(db_init.DbInitError, match="a postgresql server"):
        db_init.admin_url_for(sa.engine.make_url("postgresql+psycopg2://a:b@h/"),
                              sa.engine.make_url("mysql+pymysql://p:q@h/placement"))


def test_error_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {db_init.PLACEMENT: "mysql+pymysql://placement:hunter2@h/placement"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("os.environ", environ)
        assert db_init.main() == 1
    error = capsys.readouterr().err
    assert "PLACEDOCK_DB_ADMIN_CONNECTION: not set" in error and "hunter2" not in error


def _placement_url(server: MariaDBServer | PostgreSQLServer, name: str, password: str) -> str:
    return server.placement_url(name, password)


def _creates_a_usable_database_idempotently(server: MariaDBServer | PostgreSQLServer) -> None:
    server.start()
    name = f"p_{uuid.uuid4().hex[:12]}"
    environ = {db_init.ADMIN: server.admin_url(),
               db_init.PLACEMENT: _placement_url(server, name, "first")}
    first = db_init.initialise(environ)
    assert first[0] == f"database {name} created" and " created" in first[1], first
    environ[db_init.PLACEMENT] = _placement_url(server, name, "second")  # a rotated secret
    again = db_init.initialise(environ)
    assert again[0] == f"database {name} already there" and "password set" in again[1], again
    # The user reaches its database with the new password, and may create tables in it.
    url = policy_url(environ[db_init.PLACEMENT])
    with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        if isinstance(server, MariaDBServer):
            charset = connection.exec_driver_sql(
                "SELECT default_character_set_name FROM information_schema.schemata "
                f"WHERE schema_name = '{name}'").scalar()
            assert charset == "utf8mb4"


def policy_url(text: str) -> sa.engine.URL:
    from placedock import policy
    return policy.database_url(text).url


def test_mariadb_database_and_user_created_once(mariadb_server: MariaDBServer) -> None:
    _creates_a_usable_database_idempotently(mariadb_server)


def test_postgresql_database_and_user_created_once(postgresql_server: PostgreSQLServer) -> None:
    _creates_a_usable_database_idempotently(postgresql_server)


def test_startup_db_init_creates_the_database(mariadb_server: MariaDBServer,
                                              tmp_path: Path) -> None:
    """`startup.sh db-init` end to end, the admin URL from a file as the Compose secret gives it;
    then placedock migrates the new database with placement's URL."""
    from tests.support.server import run_startup

    mariadb_server.start()
    name = f"p_{uuid.uuid4().hex[:12]}"
    admin_file = tmp_path / "admin-url"
    admin_file.write_text(mariadb_server.admin_url() + "\n")
    placement = {db_init.PLACEMENT: _placement_url(mariadb_server, name, "pw")}
    result = run_startup(["db-init"], {**placement,
                                       db_init.ADMIN + "_FILE": str(admin_file)})
    assert result.returncode == 0, result.stderr
    assert f"db-init done: database {name} created" in result.stderr
    assert mariadb_server.admin_password not in result.stderr
    migrated = run_startup(["placement-manage", "db", "sync"],
                           {**placement, "OS_API__AUTH_STRATEGY": "noauth2"}, timeout=120)
    assert migrated.returncode == 0, migrated.stderr


def test_startup_db_init_without_its_variables_is_one_line() -> None:
    from tests.support.server import run_startup

    result = run_startup(["db-init"], {})
    assert result.returncode == 1
    expected = ("placedock: error: OS_PLACEMENT_DATABASE__CONNECTION: not set "
                "(nor OS_PLACEMENT_DATABASE__CONNECTION_FILE); db-init needs it")
    assert result.stderr.strip().splitlines() == [expected]
