"""``startup.sh db-copy``: copy placement's data from its database to another one: off the
embedded sqlite onto PostgreSQL or MariaDB, or between any two of them.

The source is the server's database (``OS_PLACEMENT_DATABASE__CONNECTION`` or its ``_FILE``,
else the embedded sqlite under ``PLACEDOCK_DATA_DIR``), and must be at this release's schema:
it is only read, never migrated (run placedock on it once with DB_SYNC=True first). The target
is ``PLACEDOCK_COPY_TARGET_CONNECTION`` (or its ``_FILE``): empty, or migrated by a placedock
that never served (it holds only the traits and resource classes a migration writes). It is
migrated to head, then every row is copied in one transaction, table by table in foreign-key
order, keeping ids, uuids and generations; PostgreSQL's sequences are set past the highest id.
Row counts and a digest of each table are compared on both sides before the transaction
commits: a difference leaves the target as it was. Stop placement's writers first: what is
written to the source after the copy read it is not copied.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData, Table, func, select, text
from sqlalchemy.engine import URL, Connection

from placedock import PlacedockError, environment
from placedock.prepare import command_status, log

SOURCE = environment.CONNECTION
TARGET = "PLACEDOCK_COPY_TARGET_CONNECTION"
# Set by migrating the target, not copied.
SCHEMA_TABLES = {"alembic_version"}
# What database.migrate writes into a new schema itself: replaced by the source's rows.
SEEDED_TABLES = {"traits", "resource_classes"}
BATCH = 1000


class CopyError(PlacedockError):
    """What stops db-copy: one line naming the variable, never a password."""


Row = dict[str, Any]


def copy(environ: Mapping[str, str]) -> list[str]:
    """Do it; return what was done, one phrase each."""
    from placedock import database  # half a second to import: only here

    source = environment.server_database_url(environ)
    target = environment.command_database_url(environ, TARGET, "db-copy")
    if source.render_as_string(hide_password=False) == target.render_as_string(
            hide_password=False):
        raise CopyError(f"{TARGET}: the same database as {SOURCE}")
    timeout = environment.wait_timeout(environ)
    for url, variable in ((source, SOURCE), (target, TARGET)):
        database.wait_for_server(url, timeout, log, variable)
    _check_source_at_head(source)
    _check_target_unused(target)
    started = time.monotonic()
    migrated = database.migrate(target, log)
    tables = _tables(target)
    with database.engine_for(source).connect() as reading:
        _snapshot(reading)
        rows = {table.name: _rows(reading, table) for table in tables}
    with database.engine_for(target).connect() as writing, writing.begin():
        _session_for_copy(writing)
        for table in reversed(tables):
            writing.execute(table.delete())
        for table in tables:
            _insert(writing, table, rows[table.name])
        _reset_sequences(writing, tables)
        _verify(writing, tables, rows)
    copied = sum(len(table_rows) for table_rows in rows.values())
    return [f"{database.masked(source)} to {database.masked(target)}",
            f"target schema {migrated}",
            f"{copied} rows in {len(tables)} tables, counts and digests equal, "
            f"{time.monotonic() - started:.1f} s"]


def _check_source_at_head(url: URL) -> None:
    from placedock import database

    if not database.table_names(url):
        raise CopyError(f"{SOURCE}: database {database.masked(url)} holds no placement schema")
    with database.engine_for(url).connect() as connection:
        found = database.current(connection)
    if found != database.head():
        raise CopyError(f"{SOURCE}: database at schema {found}, this release's is "
                        f"{database.head()}; db-copy only reads its source: start placedock "
                        "on it once with DB_SYNC=True first")


def _check_target_unused(url: URL) -> None:
    """Refuse a target holding anything but what a migration writes."""
    from placedock import database

    names = set(database.table_names(url)) - SCHEMA_TABLES - SEEDED_TABLES
    if not names:
        return
    with database.engine_for(url).connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection, only=sorted(names))
        # (reflect also brings the tables these refer to: only ``names`` are counted)
        holding = [name for name in sorted(names) if connection.execute(
            select(func.count()).select_from(metadata.tables[name])).scalar()]
    if holding:
        raise CopyError(f"{TARGET}: database {database.masked(url)} is not empty (rows in "
                        f"{', '.join(holding[:4])}); db-copy needs an unused one")


def _tables(url: URL) -> list[Table]:
    """The target's tables at head, parents before children (foreign keys)."""
    from placedock import database

    metadata = MetaData()
    with database.engine_for(url).connect() as connection:
        metadata.reflect(connection)
    return [table for table in metadata.sorted_tables if table.name not in SCHEMA_TABLES]


def _snapshot(connection: Connection) -> None:
    """Make every read on ``connection`` see one state of the database."""
    if connection.dialect.name == "sqlite":
        # pysqlite begins no transaction for a read: begun here, it holds the file's read lock
        # until the last table is read.
        connection.exec_driver_sql("BEGIN")
    else:
        connection.execution_options(isolation_level="REPEATABLE READ")


def _rows(connection: Connection, table: Table) -> list[Row]:
    """Every row, as a dict by column name, in primary-key order (ordered here, not by the
    database, whose collation differs between backends)."""
    found = [dict(row) for row in connection.execute(select(table)).mappings()]
    return sorted(found, key=lambda row: _key(table, row))


def _key(table: Table, row: Row) -> tuple[Any, ...]:
    return tuple((row[column.name] is None, row[column.name])
                 for column in table.primary_key.columns)


def _session_for_copy(connection: Connection) -> None:
    if connection.dialect.name == "mysql":
        # An id of 0 is a resource class (VCPU), not a request for the next number: placement
        # sets this mode in its own sessions too.
        connection.exec_driver_sql(
            "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")


def _insert(connection: Connection, table: Table, rows: list[Row]) -> None:
    ordered = _referenced_first(table, rows)
    for start in range(0, len(ordered), BATCH):
        connection.execute(table.insert(), ordered[start:start + BATCH])


def _referenced_first(table: Table, rows: list[Row]) -> list[Row]:
    """Rows of a table that references itself (a provider's parent and root) ordered so that
    each row's referenced rows come before it; a re-parented tree can have a parent with a
    higher id than its child."""
    links = [(element.parent.name, element.column.name) for element in table.foreign_keys
             if element.column.table.name == table.name]
    if not links:
        return rows
    placed: set[tuple[str, Any]] = set()
    ordered: list[Row] = []
    pending = rows
    while pending:
        waiting = []
        for row in pending:
            if all(row[own] is None or (column, row[own]) in placed
                   or row[own] == row[column] for own, column in links):
                ordered.append(row)
                placed.update((column, row[column]) for _, column in links)
            else:
                waiting.append(row)
        if len(waiting) == len(pending):
            raise CopyError(f"{SOURCE}: rows of {table.name} reference rows that are not there")
        pending = waiting
    return ordered


def _reset_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """PostgreSQL's next id past the highest copied (rows were inserted with their ids, which
    leaves a serial's sequence where it was). MariaDB and sqlite move theirs by themselves."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                          {"t": table.name, "c": column.name}).scalar()
            if sequence:
                connection.execute(
                    text(f'SELECT setval(:s, COALESCE(MAX("{column.name}"), 0) + 1, false) '
                         f'FROM "{table.name}"'), {"s": sequence})


def _verify(connection: Connection, tables: Sequence[Table], copied: Mapping[str, list[Row]],
            ) -> None:
    for table in tables:
        found = _rows(connection, table)
        if len(found) != len(copied[table.name]):
            raise CopyError(f"{TARGET}: {table.name} holds {len(found)} rows after the copy, "
                            f"the source {len(copied[table.name])}; nothing was written")
        if digest(table, found) != digest(table, copied[table.name]):
            raise CopyError(f"{TARGET}: {table.name}'s rows differ from the source's after the "
                            "copy; nothing was written")


def digest(table: Table, rows: Iterable[Row]) -> str:
    """A hash of a table's rows in primary-key order, each value written as every backend keeps
    it: date-times to the second (MariaDB's DATETIME keeps no fraction), floats to single
    precision's 6 digits (MariaDB's FLOAT is 4 bytes)."""
    names = sorted(column.name for column in table.columns)
    hashed = hashlib.sha256()
    for row in sorted(rows, key=lambda row: _key(table, row)):
        hashed.update("\x1f".join(_canonical(row[name]) for name in names).encode() + b"\n")
    return hashed.hexdigest()


def _canonical(value: object) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime.datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def main() -> int:
    return command_status("db-copy done", lambda: copy(os.environ))


if __name__ == "__main__":
    sys.exit(main())
