"""``startup.sh db-init``: create placement's database and the user it connects as.

Given an administrator's URL (``PLACEDOCK_DB_ADMIN_CONNECTION``, or ``..._FILE`` naming a file
that holds it) and placement's own (``OS_PLACEMENT_DATABASE__CONNECTION`` or its ``_FILE``),
make sure the database named in placement's URL exists (utf8mb4 on MySQL and MariaDB), that its
user exists with the URL's password, and that the user may do anything in that database and
nothing elsewhere. Every step is idempotent: run it at every deployment, as a one-shot job,
before the first placedock starts. MySQL, MariaDB and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import OperationalError

from placedock import PlacedockError, environment
from placedock.prepare import command_status, log, step

ADMIN = "PLACEDOCK_DB_ADMIN_CONNECTION"
PLACEMENT = "OS_PLACEMENT_DATABASE__CONNECTION"
# The user's host part on MySQL: placedock containers connect from addresses nobody knows ahead.
MYSQL_USER_HOST = "%"
# Names go into statements as identifiers (they cannot be bound): only these are accepted.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


class DbInitError(PlacedockError):
    """What stops db-init: one line, naming the variable at fault, never a password."""


def database_url(environ: Mapping[str, str], name: str) -> URL:
    url = environment.command_database_url(environ, name, "db-init")
    if url.get_backend_name() == "sqlite":
        raise DbInitError(f"{name}: sqlite needs no database server; db-init is for MySQL, "
                          "MariaDB and PostgreSQL")
    return url


def safe_name(what: str, value: str | None) -> str:
    if not value or not SAFE_NAME.match(value):
        raise DbInitError(f"{PLACEMENT}: the {what} {value!r} must be 1 to 63 letters, digits "
                          "or _ (db-init writes it into SQL statements)")
    return value


def target(placement: URL) -> tuple[str, str, str]:
    """The database, user and password placement's URL names."""
    database = safe_name("database name", placement.database)
    user = safe_name("user name", placement.username)
    if not placement.password:
        raise DbInitError(f"{PLACEMENT}: no password in the URL; db-init gives the user one")
    return database, user, str(placement.password)


def admin_url_for(admin: URL, placement: URL) -> URL:
    if admin.get_backend_name() != placement.get_backend_name():
        raise DbInitError(f"{ADMIN}: a {admin.get_backend_name()} server, but placement's URL "
                          f"names {placement.get_backend_name()}")
    if admin.get_backend_name() == "postgresql" and not admin.database:
        return admin.set(database="postgres")  # PostgreSQL always connects to some database
    return admin


def init_mysql(connection: Connection, database: str, user: str, password: str) -> list[str]:
    # The account's parts and the password are bound: PyMySQL quotes each into the statement.
    account = {"user": user, "host": MYSQL_USER_HOST}
    existed = connection.execute(
        text("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = :name"),
        {"name": database}).scalar()
    connection.exec_driver_sql(
        f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 "
        "COLLATE utf8mb4_general_ci")
    user_existed = connection.execute(
        text("SELECT COUNT(*) FROM mysql.user WHERE user = :user AND host = :host"),
        account).scalar()
    # CREATE then ALTER: a rerun sets the URL's password again, so a changed secret takes effect.
    connection.execute(text("CREATE USER IF NOT EXISTS :user@:host IDENTIFIED BY :password"),
                       {**account, "password": password})
    connection.execute(text("ALTER USER :user@:host IDENTIFIED BY :password"),
                       {**account, "password": password})
    connection.execute(text(f"GRANT ALL PRIVILEGES ON `{database}`.* TO :user@:host"), account)
    return [f"database {database} {'already there' if existed else 'created'}",
            f"user {user}@{MYSQL_USER_HOST} {'password set' if user_existed else 'created'}",
            f"all privileges on {database} granted"]


def init_postgresql(connection: Connection, database: str, user: str, password: str) -> list[str]:
    role_existed = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :user"),
                                      {"user": user}).first() is not None
    verb = "ALTER" if role_existed else "CREATE"
    # psycopg2 quotes the bound password into the statement.
    connection.execute(text(f'{verb} ROLE "{user}" LOGIN PASSWORD :password'),
                       {"password": password})
    existed = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": database}).first() is not None
    if not existed:
        # The owner may create tables in its public schema (PostgreSQL 15 grants that to the
        # database's owner only).
        connection.exec_driver_sql(
            f"CREATE DATABASE \"{database}\" OWNER \"{user}\" ENCODING 'UTF8' TEMPLATE template0")
    connection.exec_driver_sql(f'GRANT ALL PRIVILEGES ON DATABASE "{database}" TO "{user}"')
    return [f"database {database} {'already there' if existed else 'created'}",
            f"user {user} {'password set' if role_existed else 'created'}",
            f"all privileges on {database} granted"]


def initialise(environ: Mapping[str, str]) -> list[str]:
    """Do it all; return what was done, one phrase per step."""
    from placedock import database as placedock_database  # half a second to import: only here

    placement = database_url(environ, PLACEMENT)
    admin = admin_url_for(database_url(environ, ADMIN), placement)
    name, user, password = target(placement)
    wait_s = environment.wait_timeout(environ)
    deadline = time.monotonic() + wait_s
    engine = placedock_database.engine_for(admin).execution_options(isolation_level="AUTOCOMMIT")
    init = init_mysql if admin.get_backend_name() == "mysql" else init_postgresql
    while True:
        with step(f"database server {placedock_database.masked(admin)} reachable"):
            placedock_database.wait(admin, max(deadline - time.monotonic(), 1.0), log, ADMIN)
        try:
            with engine.connect() as connection:
                return init(connection, name, user, password)
        except OperationalError as error:
            # The connection was cut mid-step (a Galera node that HAProxy takes out while the
            # cluster forms): every step is idempotent, so start again while time is left.
            reason = str(error.orig).splitlines()[0][:200]
            if time.monotonic() >= deadline:
                raise DbInitError(f"{ADMIN}: lost the database server and gave up after "
                                  f"DB_WAIT_TIMEOUT={wait_s:g} s: {reason}") from None
            log(f"database connection lost ({reason}); starting again")
            time.sleep(1)


def main() -> int:
    return command_status("db-init done", lambda: initialise(os.environ))


if __name__ == "__main__":
    sys.exit(main())
