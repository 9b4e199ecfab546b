"""placedock.database on real sqlite files and oslo.db engines (the kind placement builds: their
sqlite "begin" listener emits a plain BEGIN); the PostgreSQL and MariaDB paths are exercised end
to end in tests/test_databases.py and tests/test_outage.py."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from oslo_db.sqlalchemy import enginefacade, engines
from sqlalchemy.engine import URL, make_url

from placedock import database
from placedock.database import OutageWatch
from tests.support.network import free_port


def oslo_engine(path: Path) -> sa.Engine:
    engine = engines.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    return engine


def statements(engine: sa.Engine) -> list[str]:
    """Every statement sent from now on, as sent (after placedock's rewriting)."""
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def test_each_transaction_begins_immediate_and_waits_up_to_the_busy_timeout(tmp_path: Path) -> None:
    engine = oslo_engine(tmp_path / "p.sqlite")
    assert database.serialise_sqlite_transactions(engine) is True
    seen = statements(engine)
    with engine.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT count(*) FROM t"))
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert seen[0] == "BEGIN IMMEDIATE"
    assert "BEGIN" not in seen
    assert busy == database.SQLITE_BUSY_TIMEOUT_MS


def test_applying_it_twice_adds_nothing(tmp_path: Path) -> None:
    engine = oslo_engine(tmp_path / "p.sqlite")
    database.serialise_sqlite_transactions(engine)
    listeners = (len(engine.pool.dispatch.connect), len(engine.dispatch.before_cursor_execute))
    assert database.serialise_sqlite_transactions(engine) is True
    assert (len(engine.pool.dispatch.connect),
            len(engine.dispatch.before_cursor_execute)) == listeners


@pytest.mark.parametrize("url", ["postgresql+psycopg2://placement@db/placement",
                                 "mysql+pymysql://placement@db/placement"])
def test_other_databases_are_left_alone(url: str) -> None:
    engine = sa.create_engine(url)  # never connects
    before = (len(engine.pool.dispatch.connect), len(engine.dispatch.before_cursor_execute))
    assert database.serialise_sqlite_transactions(engine) is False
    assert (len(engine.pool.dispatch.connect), len(engine.dispatch.before_cursor_execute)) == before
    assert not sa.event.contains(engine, "before_cursor_execute", database._begin)


def read_then_write_at_once(engine: sa.Engine, writers: int = 2) -> list[str]:
    """``writers`` threads each read, pause, then write in one transaction, as placement's
    writes do; their read phases overlap. Returns the errors."""
    errors: list[str] = []

    def write() -> None:
        try:
            with engine.connect() as connection, connection.begin():
                connection.execute(sa.text("SELECT count(*) FROM t")).scalar()
                time.sleep(0.3)
                connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        except sa.exc.OperationalError as error:
            errors.append(str(error.orig))

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_without_it_overlapping_writers_are_refused_at_once(tmp_path: Path) -> None:
    # The failure the hook exists for: sqlite refuses one writer without waiting.
    assert read_then_write_at_once(oslo_engine(tmp_path / "p.sqlite")) == ["database is locked"]


def test_with_it_overlapping_writers_queue_and_all_commit(tmp_path: Path) -> None:
    engine = oslo_engine(tmp_path / "p.sqlite")
    database.serialise_sqlite_transactions(engine)
    assert read_then_write_at_once(engine, writers=4) == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 4


@enginefacade.transaction_context_provider
class RequestContext:
    """What placement's own request context is to oslo.db: a holder of the transaction."""


def placement_like_facade(path: Path) -> enginefacade._TransactionContextManager:
    facade = enginefacade.transaction_context()
    facade.configure(connection=f"sqlite:///{path}")
    engine = facade.writer.get_engine()
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    database.serialise_sqlite_transactions(engine)
    return facade


def test_a_read_inside_its_own_threads_write_does_not_wait_for_that_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # placement's allocation retry: an independent reader inside the request's open writer.
    # Were it begun IMMEDIATE it would wait out the busy timeout (cut to 2 s here), then fail.
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 2_000)
    facade = placement_like_facade(tmp_path / "p.sqlite")
    seen = statements(facade.writer.get_engine())
    context = RequestContext()
    read_inside: list[int] = []
    started = time.monotonic()
    with facade.writer.using(context):
        context.session.execute(sa.text("INSERT INTO t VALUES (1)"))
        with facade.reader.independent.using(context):
            # Its own read lock, beside the write: it sees only what was committed.
            read_inside.append(context.session.execute(sa.text("SELECT count(*) FROM t")).scalar())
        context.session.execute(sa.text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 1
    assert read_inside == [0]
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]
    with facade.reader.using(context):
        assert context.session.execute(sa.text("SELECT count(*) FROM t")).scalar() == 2


def test_a_transaction_after_the_threads_write_ended_takes_the_write_lock_again(
        tmp_path: Path) -> None:
    facade = placement_like_facade(tmp_path / "p.sqlite")
    seen = statements(facade.writer.get_engine())
    for _ in range(2):
        with facade.writer.using(RequestContext()) as session:
            session.execute(sa.text("INSERT INTO t VALUES (1)"))
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"] * 2


def test_each_connection_serves_one_checkout_as_the_write_lock_tracking_assumes(
        tmp_path: Path) -> None:
    # placedock.database._holds_write_lock_elsewhere counts on oslo.db's NullPool for sqlite:
    # were connections pooled, one could be another thread's by now.
    engine = oslo_engine(tmp_path / "p.sqlite")
    database.serialise_sqlite_transactions(engine)
    with engine.connect() as connection, connection.begin():
        connection.execute(sa.text("INSERT INTO t VALUES (1)"))
    assert isinstance(engine.pool, sa.pool.NullPool)
    closed_with_its_checkout = database._write_lock.connection
    with pytest.raises(sqlite3.ProgrammingError):
        assert closed_with_its_checkout is not None and closed_with_its_checkout.in_transaction


def test_outage_watch_marks_only_the_thread_that_saw_it() -> None:
    engine = sa.create_engine("sqlite:////nonexistent-dir/x.sqlite")  # cannot connect
    watch = OutageWatch(engine)
    watch.begin_request()
    seen_elsewhere: list[bool] = []
    thread = threading.Thread(target=lambda: seen_elsewhere.append(watch.unreachable))
    with contextlib.suppress(sa.exc.OperationalError):
        engine.connect()
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


def test_wait_makes_the_sqlite_folder_and_returns_at_once(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path}/not/yet/placement.sqlite")
    lines: list[str] = []
    database.wait(url, 60, lines.append)
    assert (tmp_path / "not" / "yet").is_dir() and lines == []


def test_wait_gives_up_on_sqlite_at_once(tmp_path: Path) -> None:
    (tmp_path / "placement.sqlite").mkdir()  # a folder where the file should be
    url = make_url(f"sqlite:///{tmp_path}/placement.sqlite")
    started = time.monotonic()
    with pytest.raises(database.DatabaseError, match="not reachable after"):
        database.wait(url, 60, lambda line: None)
    assert time.monotonic() - started < 5


def test_wait_retries_a_server_until_its_timeout_and_never_shows_the_password() -> None:
    port = free_port()  # nothing listens there: each attempt is refused at once
    url = make_url(f"postgresql+psycopg2://placement:s3cret-word@127.0.0.1:{port}/placement")
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(database.DatabaseError) as raised:
        database.wait(url, 2, lines.append)
    took = time.monotonic() - started
    message = str(raised.value)
    assert "not reachable after" in message and "DB_WAIT_TIMEOUT=2" in message
    assert len(lines) >= 2 and all("waiting for database" in line for line in lines)
    assert 0.5 < took < 4
    assert "s3cret-word" not in message + "".join(lines) and "***" in message
    assert "\n" not in message


def test_readiness_says_what_is_wrong_with_an_unreachable_database() -> None:
    url = make_url(f"postgresql+psycopg2://placement:s3cret-word@127.0.0.1:{free_port()}/placement")
    problem = database.readiness(database.engine_for(url), database.head())
    assert problem is not None and problem.startswith("database check failed: ")
    assert "s3cret-word" not in problem


def test_migrate_brings_an_empty_database_to_head_once(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path}/placement.sqlite")
    head = database.head()
    assert database.migrate(url, lambda line: None) == f"migrated from empty to {head}"
    assert database.check_at_head(url) == head
    assert database.readiness(sa.create_engine(url), head) is None
    with sa.create_engine(url).connect() as connection:
        # Seeded under the lock: the standard traits and resource classes.
        traits = connection.execute(sa.text("SELECT count(*) FROM traits")).scalar()
        classes = connection.execute(sa.text("SELECT count(*) FROM resource_classes")).scalar()
    assert traits and traits > 100 and classes and classes > 10
    assert database.migrate(url, lambda line: None) == f"already at {head}"
