"""Databases for the backup, restore and copy tests: migrated by placedock, filled with a
cloud's rows, and read back table by table (row counts and digests) to compare two of them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from placedock import database, policy
from placedock.db_copy import digest
from tests.support.network import free_port
from tests.support.server import QUICK_START, Server

PLACEMENT = "OS_PLACEMENT_DATABASE__CONNECTION"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def checked(url: str) -> URL:
    """The URL as placedock reads it (the driver named, MySQL's charset)."""
    return policy.database_url(url).url


def migrated(url: str) -> URL:
    """``url``'s database at head, with the standard traits and resource classes, as a
    placedock with DB_SYNC=True leaves it."""
    checked_url = checked(url)
    database.migrate(checked_url, lambda line: None)
    return checked_url


def seeded(url: str, nodes: int) -> int:
    """A migrated database holding ``nodes`` compute nodes (four providers each, sharing disk
    providers, inventories, traits, aggregates, one instance's allocations on each); returns
    the providers in it."""
    from benchmark.scale.seed import seed

    migrated(url)
    return seed(checked(url).render_as_string(hide_password=False), 0, nodes).providers


def contents(url: str | URL) -> dict[str, tuple[int, str]]:
    """Every table but alembic_version: (rows counted by the database, digest of its rows)."""
    engine = sa.create_engine(checked(str(url)) if isinstance(url, str) else url,
                              poolclass=sa.pool.NullPool)
    metadata = sa.MetaData()
    found = {}
    with engine.connect() as connection:
        metadata.reflect(connection)
        for name, table in sorted(metadata.tables.items()):
            if name == "alembic_version":
                continue
            count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            rows = [dict(row) for row in connection.execute(sa.select(table)).mappings()]
            found[name] = (int(count or 0), digest(table, rows))
    return found


def revision(url: str | URL) -> str | None:
    engine = sa.create_engine(checked(str(url)) if isinstance(url, str) else url,
                              poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return database.current(connection)


def serve(workdir: Path, url: str) -> Server:
    """placedock serving ``url`` (noauth2, migrating it if it is behind), ready."""
    server = Server(workdir, free_port(), {**QUICK_START, PLACEMENT: url}).start()
    server.wait_ready(timeout=120)
    return server
