"""Placement's database: wait for it, migrate it under a lock, and say whether it is ready."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from placement import db_api
from placement.db.sqlalchemy import migration
from placement.objects import resource_class, trait
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Dialect, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from placedock import PlacedockError

CONNECTION = "OS_PLACEMENT_DATABASE__CONNECTION"
LOCK_NAME = "placedock-db-sync"
LOCK_KEY = 0x706C6163  # any fixed 64-bit number, the same in every placedock: "plac"
LOCK_TIMEOUT_S = 300
CONNECT_TIMEOUT_S = 5
# How long a sqlite transaction waits for the write lock before "database is locked" (pysqlite's
# default is 5 s): transactions queue for the lock, so the wait grows with the queue.
SQLITE_BUSY_TIMEOUT_MS = 30_000
Log = Callable[[str], None]


class DatabaseError(PlacedockError):
    """The database is unusable: the message is one line and holds no password."""


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migration._alembic_config())


def head() -> str:
    """The schema revision this placement release needs."""
    return str(_scripts().get_current_head())


def newer_than_this_release(revision: str) -> bool:
    """A revision this placement release does not know: one a later release migrated to.

    placement's migrations only add (tables, columns, constraints that its own code already
    honours), so that a release keeps working on the schema of the next one: that is what lets
    a rolling upgrade keep the old containers serving after the first new one migrated. So a
    newer schema is served; only a missing or older one (which this code would fail on) is not.
    """
    try:
        return _scripts().get_revision(revision) is None
    except CommandError:  # "Can't locate revision"
        return True


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def engine_for(url: URL) -> Engine:
    """A pool-less engine for start-up steps: nothing is left open for forked workers."""
    connect_args: dict[str, object] = {}
    if url.get_backend_name() in {"postgresql", "mysql"}:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


# What a driver says when it refuses the server's certificate (libpq; PyMySQL through Python's
# ssl): waiting will not change the certificate, so the start stops at once.
CERTIFICATE_REFUSED = ("certificate verify failed", "does not match host name",
                       "certificate is not valid for", "CERTIFICATE_VERIFY_FAILED")


def certificate_refused(reason: str) -> bool:
    return any(words in reason for words in CERTIFICATE_REFUSED)


def wait(url: URL, timeout_s: float, log: Log, variable: str = CONNECTION) -> None:
    """Return once the database accepts a query; give up after ``timeout_s`` (at once when the
    server's certificate is refused). Errors name ``variable``, where ``url`` came from."""
    if url.get_backend_name() == "sqlite":
        _make_sqlite_dir(url)
    engine = engine_for(url)
    started = time.monotonic()
    delay = 0.5
    for attempt in range(1, 10_000):
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return
        except DBAPIError as error:
            reason = _reason(error, url)
            waited = time.monotonic() - started
            if certificate_refused(reason):
                raise DatabaseError(
                    f"{variable}: database {masked(url)} refused: its TLS certificate is not "
                    f"trusted or not for this host ({reason}); check the URL's CA (sslrootcert, "
                    "ssl_ca) and host name") from None
            if url.get_backend_name() == "sqlite" or waited + delay > timeout_s:
                raise DatabaseError(
                    f"{variable}: database {masked(url)} not reachable after {waited:.1f} s "
                    f"(DB_WAIT_TIMEOUT={timeout_s:g}): {reason}"
                ) from None
            log(f"waiting for database {masked(url)}: {reason} (attempt {attempt}, "
                f"{waited:.1f} s of {timeout_s:g} s)")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def wait_for_server(url: URL, timeout_s: float, log: Log, variable: str) -> None:
    """wait(), for a command on a database that may not be there yet (a restore's target) or
    must be (a backup's source): a sqlite file is neither made nor created, having no server."""
    if url.get_backend_name() != "sqlite":
        wait(url, timeout_s, log, variable)


def table_names(url: URL) -> list[str]:
    """The tables in ``url``'s database: none for a sqlite file not there (left uncreated)."""
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return []
    with engine_for(url).connect() as connection:
        return sorted(inspect(connection).get_table_names())


def check_at_head(url: URL) -> str:
    """Refuse a schema that is missing or behind: only DB_SYNC may change it."""
    with engine_for(url).connect() as connection:
        found = current(connection)
    wanted = head()
    if found == wanted:
        return wanted
    if found is not None and newer_than_this_release(found):
        return f"{found}, newer than this release's {wanted}: served (migrations only add)"
    state = "has no placement schema" if found is None else f"is at revision {found}"
    raise DatabaseError(
        f"DB_SYNC: database {masked(url)} {state}, placement needs {wanted}; "
        "set DB_SYNC=True to migrate it"
    )


def migrate(url: URL, log: Log) -> str:
    """Bring the schema to head, one instance at a time; say what was done."""
    engine = engine_for(url)
    wanted = head()
    with engine.connect() as connection:
        found = current(connection)
    if found == wanted:
        return f"already at {wanted}"
    if found is not None and newer_than_this_release(found):
        return f"at {found}, newer than this release's {wanted}: left as it is"
    with _exclusive(engine, url, log):
        with engine.connect() as connection:
            found = current(connection)
        if found == wanted:
            return f"already at {wanted} (another instance migrated it)"
        with _placement_database(url):
            migration.upgrade("head")
            # Seed the standard traits and resource classes now, under the lock: the app does
            # it at load too, and first inserts into an empty table by many instances race.
            context = db_api.DbContext()
            # placement remembers a sync per process, not per database: a process that migrates
            # a second database (the tests' do) must seed that one too.
            trait._TRAITS_SYNCED = False
            resource_class._RESOURCE_CLASSES_SYNCED = False
            trait.ensure_sync(context)
            resource_class.ensure_sync(context)
        return f"migrated from {found or 'empty'} to {wanted}"


def readiness(engine: Engine, wanted: str) -> str | None:
    """None when the database answers and its schema is at head (or newer: see
    newer_than_this_release), else what is wrong (no secrets)."""
    return schema_state(engine, wanted)[1]


def schema_state(engine: Engine, wanted: str) -> tuple[str | None, str | None]:
    """The schema revision found (None if none could be read) and readiness's answer."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (DBAPIError, db_exc.DBError) as error:  # placement's engine raises oslo.db's errors
        return None, f"database check failed: {_reason(error, engine.url)}"
    if found != wanted and not (found and newer_than_this_release(found)):
        return found, f"database schema at {found}, placement needs {wanted}"
    return found, None


@contextlib.contextmanager
def _placement_database(url: URL) -> Iterator[None]:
    """Point placement's own database layer (which its migrations use) at ``url``, then restore
    it untouched, so the app loaded later in this same process configures it afresh."""
    manager = enginefacade.transaction_context()
    manager.configure(connection=url.render_as_string(hide_password=False))
    restore = db_api.placement_context_manager.patch_factory(manager)
    try:
        yield
    finally:
        manager.dispose_pool()
        restore()


@contextlib.contextmanager
def _exclusive(engine: Engine, url: URL, log: Log) -> Iterator[None]:
    """Hold a lock every placedock on this database agrees on."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        with open(f"{url.database}.lock", "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log("waiting for another instance's migration")
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield
        return
    if backend == "postgresql":
        acquire = "SELECT pg_try_advisory_lock(:key)"
        release = "SELECT pg_advisory_unlock(:key)"
    else:
        acquire = "SELECT GET_LOCK(:name, 0)"
        release = "SELECT RELEASE_LOCK(:name)"
    names = {"key": LOCK_KEY, "name": LOCK_NAME}
    with engine.connect() as connection:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        waiting = False
        while not _true(connection.execute(text(acquire), names).scalar()):
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"DB_SYNC: another instance held the migration lock for over {LOCK_TIMEOUT_S} s"
                )
            if not waiting:
                log("waiting for another instance's migration")
                waiting = True
            time.sleep(0.2)
        try:
            yield
        finally:
            connection.execute(text(release), names)


class OutageWatch:
    """Whether the database was unreachable during the request this thread is serving.

    placement turns every exception into a 500; a request that failed because the database
    could not be reached deserves a 503 with Retry-After instead (the client, or nova, retries;
    nothing is wrong with the request). Two hooks on placement's engine see it: a connection
    attempt that fails (the server is down, or refuses this database), and an error that
    SQLAlchemy or oslo.db marks as a disconnect (a connection cut under a query or a ping).
    """

    def __init__(self, engine: Engine, on_error: Callable[[str], None] | None = None) -> None:
        """``on_error`` is told each error's kind: ``connect`` (no connection could be made),
        ``disconnect`` (one was lost), else the exception's class name (placedock.metrics)."""
        self._local = threading.local()
        self._on_error = on_error or (lambda kind: None)
        event.listen(engine, "do_connect", self._connect)
        # First in line: oslo.db's own handler raises its translated exception, and a handler
        # that raises ends the chain before the ones after it.
        event.listen(engine, "handle_error", self._error, insert=True)

    def _connect(self, dialect: Dialect, record: object, cargs: tuple[Any, ...],
                 cparams: dict[str, Any]) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception:
            self._local.unreachable = True
            self._on_error("connect")
            raise

    def _error(self, context: ExceptionContext) -> None:
        if context.connection is None:
            return  # a connection attempt: _connect has seen it
        if context.is_disconnect:
            self._local.unreachable = True
            self._on_error("disconnect")
        else:
            self._on_error(type(context.original_exception).__name__)

    def begin_request(self) -> None:
        self._local.unreachable = False

    @property
    def unreachable(self) -> bool:
        return bool(getattr(self._local, "unreachable", False))


def serialise_sqlite_transactions(engine: Engine) -> bool:
    """On sqlite, make each transaction of ``engine`` (placement's) take the write lock at BEGIN
    and wait up to SQLITE_BUSY_TIMEOUT_MS for it, except one a thread begins while it holds that
    lock itself (see _begin); other databases are left alone. Returns whether it applies.
    Calling it again adds nothing.

    Why: oslo.db begins every sqlite transaction with a plain (deferred) BEGIN, and placement's
    writes read first (generations, ids) and then write. Two such transactions each hold a read
    lock; when both then want to write, sqlite refuses one at once with "database is locked": it
    does not wait even for the busy timeout, since waiting could deadlock. With 8 clients writing
    on the default 2 processes x 2 threads, a third of the requests got that 500 (README,
    "Concurrent writers on sqlite"). BEGIN IMMEDIATE takes the write lock first, so transactions
    queue for it instead of failing. Readers queue too: the engine cannot tell placement's readers
    from its writers. WAL journal mode was measured and does not help (the same refusal happens).
    """
    if engine.url.get_backend_name() != "sqlite":
        return False
    if not event.contains(engine, "before_cursor_execute", _begin):
        event.listen(engine, "connect", _busy_timeout)
        event.listen(engine, "before_cursor_execute", _begin, retval=True)
    return True


def _busy_timeout(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


class _WriteLock(threading.local):
    """The DB-API connection on which this thread last took sqlite's write lock."""

    connection: sqlite3.Connection | None = None


_write_lock = _WriteLock()


def _begin(connection: Connection, _cursor: object, statement: str, parameters: object,
           _context: object, _many: bool) -> tuple[str, object]:
    """oslo.db's own BEGIN (its sqlite "begin" listener), made IMMEDIATE, unless this thread
    already holds the write lock on another connection: then it stays deferred, and reads.

    Why: placement reads on a second connection inside a write of its own. A conflicting
    allocation write is retried after reading the providers' generations again in an
    independent transaction (placement.objects.allocation.replace_all), while the request's
    write transaction is still open. Begun IMMEDIATE, that read would wait for the write lock its
    own request holds, for the whole busy timeout, then fail: a 30 s stall for every request
    queued behind it, then a 500. Deferred, it takes only a read lock, which sqlite grants beside
    a pending write (the holder of the write lock is this very thread, so nobody is committing),
    and it sees what the racing request committed, as placement means it to.
    """
    if statement != "BEGIN":
        return statement, parameters
    dbapi_connection = connection.connection.dbapi_connection
    if _holds_write_lock_elsewhere(dbapi_connection):
        return statement, parameters
    _write_lock.connection = dbapi_connection  # type: ignore[assignment]
    return "BEGIN IMMEDIATE", parameters


def _holds_write_lock_elsewhere(dbapi_connection: object) -> bool:
    """Whether this thread's last write transaction is still open on another connection.

    oslo.db gives a sqlite file a NullPool: each DB-API connection serves one checkout, on one
    thread, and is closed at its end. So a connection still open and in a transaction is this
    thread's transaction, still going.
    """
    holder = _write_lock.connection
    if holder is None or holder is dbapi_connection:
        return False
    try:
        return holder.in_transaction
    except sqlite3.ProgrammingError:  # closed: that checkout has ended
        return False


def _true(value: object) -> bool:
    return value is True or value == 1


def _make_sqlite_dir(url: URL) -> None:
    directory = Path(url.database or "").parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseError(
            f"{CONNECTION}: cannot create {str(directory)!r} for the sqlite file: {error.strerror}"
        ) from None


def _reason(error: Exception, url: URL) -> str:
    """The driver's first line, without the password should a driver echo it."""
    cause = getattr(error, "orig", None) or getattr(error, "inner_exception", None) or error
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason
