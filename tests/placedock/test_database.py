"""placedock.database on real sqlite files (the PostgreSQL and MariaDB paths are exercised end to
end in tests/test_databases.py and tests/test_outage.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from placedock import database
from placedock.database import OutageWatch


def test_outage_watch_marks_only_the_thread_that_saw_it() -> None:
    engine = sa.create_engine("sqlite:////nonexistent-dir/x.sqlite")  # cannot connect
    watch = OutageWatch(engine)
    watch.begin_request()
    seen_elsewhere: list[bool] = []
    thread = threading.Thread(target=lambda: seen_elsewhere.append(watch.unreachable))
    try:
        engine.connect()
    except sa.exc.OperationalError:
        pass
    thread.start()
    thread.join()
    assert watch.unreachable and seen_elsewhere == [False]
    watch.begin_request()
    assert not watch.unreachable


def sqlite_at(tmp_path: Path, revision: str | None) -> URL:
    """A sqlite file whose alembic_version says ``revision`` (no table for None)."""
    url = make_url(f"sqlite:///{tmp_path}/placement.sqlite")
    with sa.create_engine(url).begin() as connection:
        if revision is not None:
            connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            connection.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    return url


NEWER = "0123456789ab"  # a revision no placement release of ours knows: a later one's


def test_a_newer_schema_is_served_an_older_one_is_not(tmp_path: Path) -> None:
    assert database.newer_than_this_release(NEWER)
    assert not database.newer_than_this_release(database.head())
    assert not database.newer_than_this_release("b4ed3a175331")  # placement's first revision
    newer = sqlite_at(tmp_path, NEWER)
    assert "newer than this release" in database.check_at_head(newer)
    assert database.readiness(sa.create_engine(newer), database.head()) is None
    assert "left as it is" in database.migrate(newer, lambda line: None)


@pytest.mark.parametrize("revision", [None, "b4ed3a175331"])
def test_a_missing_or_older_schema_refuses_to_start_and_is_not_ready(
        tmp_path: Path, revision: str | None) -> None:
    url = sqlite_at(tmp_path, revision)
    with pytest.raises(database.DatabaseError, match="set DB_SYNC=True"):
        database.check_at_head(url)
    if revision:
        problem = database.readiness(sa.create_engine(url), database.head())
        assert problem == f"database schema at {revision}, placement needs {database.head()}"
