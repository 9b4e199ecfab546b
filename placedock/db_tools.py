"""The databases' own backup tools, run for a database URL: sqlite's online backup API,
pg_dump and pg_restore, mariadb-dump and the mariadb client.

A backup is the tool's own format, nothing of placedock's: a sqlite file, a pg_dump custom
archive, a mariadb-dump SQL script. So an operator can read or restore one without placedock.
Passwords travel in the tools' environment (PGPASSWORD, MYSQL_PWD), never on a command line that
``ps`` shows, and are cut from anything a tool prints.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL

from placedock import PlacedockError

FILE = "PLACEDOCK_BACKUP_FILE"
# How each kind of backup file begins: a restore knows what it was given before it runs a tool.
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
MYSQL_HEADERS = ("-- MariaDB dump", "-- MySQL dump")
# mariadb-dump's last line, written only once every table is out: a cut file lacks it.
MYSQL_COMPLETED = "-- Dump completed"
MYSQL_REVISION = re.compile(r"INSERT INTO `alembic_version` VALUES\s*\('(\w+)'\)")
SUFFIXES = {"sqlite": "sqlite", "postgresql": "pgdump", "mysql": "sql"}
NAMES = {"sqlite": "sqlite", "postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL"}
PACKAGES = {"pg_dump": "postgresql-client", "pg_restore": "postgresql-client",
            "psql": "postgresql-client",
            "mariadb-dump": "mariadb-client", "mariadb": "mariadb-client"}
SQLITE_BUSY_TIMEOUT_S = 30.0  # a writer's commit holds the file this long at most (database.py)
TOOL_TIMEOUT_S = 6 * 3600
CONNECT_TIMEOUT_S = "10"


class ToolError(PlacedockError):
    """A tool refused or failed: one line, naming the file or variable, never a password."""


def named_file(environ: Mapping[str, str], argv: Sequence[str], command: str) -> Path:
    """The backup file db-backup and db-restore work on: the command's argument, else FILE."""
    given = argv[0] if argv else environ.get(FILE)
    if not given:
        raise ToolError(f"{FILE}: not set, and no file given (startup.sh {command} FILE)")
    return Path(given).absolute()


def kind_of_file(path: Path) -> str | None:
    """Which database's backup ``path`` holds, from its first bytes; None if none of ours."""
    with path.open("rb") as file:
        start = file.read(4096)
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(PG_MAGIC):
        return "postgresql"
    text = start.decode("utf-8", errors="replace")
    if any(header in text for header in MYSQL_HEADERS):
        return "mysql"
    return None


# -- backing up ------------------------------------------------------------------------------

def backup(url: URL, destination: Path, variable: str) -> None:
    """Write a consistent backup of ``url``'s database to ``destination`` (a new file)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        _sqlite_backup(Path(url.database or ""), destination, variable)
    elif backend == "postgresql":
        # The custom format: compressed, and pg_restore can list and check it before restoring.
        # No owner or grants: the restoring user owns what it creates, whatever its name.
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
              f"--file={destination}", f"--dbname={_pg_conninfo(url)}"], url, variable)
    else:
        # One consistent snapshot of InnoDB (no table lock; on Galera no desync of the node);
        # without --databases, the script names no database and restores into any.
        _run(["mariadb-dump", *_mysql_connection(url), "--single-transaction", "--quick",
              "--no-tablespaces", "--hex-blob", f"--result-file={destination}",
              str(url.database)], url, variable)


def _sqlite_backup(source: Path, destination: Path, variable: str) -> None:
    if not source.is_file():
        raise ToolError(f"{variable}: no sqlite file at {str(source)!r}")
    try:
        _sqlite_copy(source, destination)
    except sqlite3.Error as error:
        raise ToolError(f"{variable}: sqlite backup of {str(source)!r} failed: {error}") from None


def _sqlite_copy(source: Path, destination: Path) -> None:
    """sqlite's online backup, read-only on ``source`` and in one step (-1 pages): the copy is
    the file as one transaction saw it, while placement's writers wait for it at most their
    busy timeout (a copy in steps would start again after each write)."""
    with closing(_sqlite_read_only(source)) as reader, \
            closing(sqlite3.connect(destination)) as writer:
        reader.backup(writer, pages=-1)


def _sqlite_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           timeout=SQLITE_BUSY_TIMEOUT_S)


# -- checking a backup -----------------------------------------------------------------------

def checked_revision(path: Path, backend: str) -> str:
    """The placement schema revision a complete, readable backup of ``backend`` holds; a
    ToolError naming ``path`` if it is cut short, corrupt, of another database or no
    placement backup. Reads only: nothing is written anywhere."""
    where = f"{str(path)!r}"
    try:
        kind = kind_of_file(path)
    except OSError as error:
        raise ToolError(f"{where}: cannot read it ({error.strerror})") from None
    if kind is None:
        raise ToolError(f"{where}: not a backup (no sqlite file, pg_dump custom archive or "
                        "mariadb-dump script)")
    if kind != backend:
        raise ToolError(f"{where}: a {NAMES[kind]} backup, but the database is "
                        f"{NAMES[backend]}; db-copy moves data between databases")
    revision = {"sqlite": _sqlite_revision, "postgresql": _pg_revision,
                "mysql": _mysql_revision}[kind](path)
    if not revision:
        raise ToolError(f"{where}: holds no placement schema (no alembic_version row)")
    return revision


def _sqlite_revision(path: Path) -> str | None:
    _check_sqlite_length(path)
    try:
        with closing(_sqlite_read_only(path)) as connection:
            verdict = " ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
            if verdict != "ok":
                raise ToolError(f"{str(path)!r}: corrupt sqlite file "
                                f"({' '.join(verdict.split())[:200]})")
            if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                      "name = 'alembic_version'").fetchone():
                return None
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as error:
        raise ToolError(f"{str(path)!r}: unreadable sqlite file ({error})") from None
    return row[0] if row else None


def _check_sqlite_length(path: Path) -> None:
    """A file shorter than the pages its header counts was cut (sqlite's file format: the page
    size at byte 16, the database's pages at byte 28)."""
    with path.open("rb") as file:
        header = file.read(100)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if len(header) < 100 or path.stat().st_size < page_size * pages:
        raise ToolError(f"{str(path)!r}: cut short (its header counts {pages} pages of "
                        f"{page_size} bytes)")


def _pg_revision(path: Path) -> str | None:
    where = f"{path}"
    # The table of contents, then every byte of data read through (into nothing): a cut or
    # damaged archive fails here, before any database is touched.
    _run(["pg_restore", "--list", where], None, where)
    _run(["pg_restore", "--file=/dev/null", where], None, where)
    data = _run(["pg_restore", "--data-only", "--table=alembic_version", "--file=-", where],
                None, where)
    lines = data.splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line:
            return lines[number + 1] if lines[number + 1] != "\\." else None
    return None


def _mysql_revision(path: Path) -> str | None:
    revision = None
    last = ""
    insert = ""  # alembic_version's INSERT, whose values may follow on the next lines
    with path.open(encoding="utf-8", errors="replace") as script:
        for line in script:
            if line.strip():
                last = line
            if line.startswith("INSERT INTO `alembic_version`") or (insert and not revision):
                insert += line
                match = MYSQL_REVISION.search(insert)
                revision = match[1] if match else None
                insert = "" if line.rstrip().endswith(";") else insert
    if not last.startswith(MYSQL_COMPLETED):
        raise ToolError(f"{str(path)!r}: cut short (its last line is not mariadb-dump's "
                        f"'{MYSQL_COMPLETED}')")
    return revision


# -- restoring -------------------------------------------------------------------------------

def restore(url: URL, source: Path, variable: str) -> None:
    """Load a checked backup into ``url``'s empty database."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        _sqlite_restore(source, Path(url.database or ""), variable)
    elif backend == "postgresql":
        _pg_restore(url, source, variable)
    else:
        with source.open("rb") as script:
            _run(["mariadb", *_mysql_connection(url), "--batch", f"--database={url.database}"],
                 url, variable, stdin=script)


# pg_dump 17 and later set this in every archive; PostgreSQL 16 and older refuse the name, and
# pg_restore, connected to one, stops there. The image's tools are 17's (Debian trixie).
NEWER_SETTINGS = {b"SET transaction_timeout = 0;": 17}


def _pg_restore(url: URL, source: Path, variable: str) -> None:
    """pg_restore's SQL, less the settings the server is too old for, into psql: in one
    transaction, stopping at the first error, so a failure leaves the database as it was."""
    from placedock import database  # half a second to import: only here

    with database.engine_for(url).connect() as connection:
        server = (connection.dialect.server_version_info or (0,))[0]
    env = {**os.environ, **_password_environment(url)}
    dump = _start(["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(source)], env,
                  stdout=subprocess.PIPE)
    load = _start(["psql", "--no-psqlrc", "--quiet", "--single-transaction",
                   "--set=ON_ERROR_STOP=1", "--output=/dev/null",
                   f"--dbname={_pg_conninfo(url)}"], env, stdin=subprocess.PIPE)
    assert dump.stdout is not None and load.stdin is not None
    try:
        for line in dump.stdout:
            if NEWER_SETTINGS.get(line.strip(), 0) <= server:
                load.stdin.write(line)
        load.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: it says which below
    complaint = _finished(load)
    if load.returncode != 0:
        dump.kill()  # nobody reads the rest
    dump_complaint = _finished(dump)
    for process, stderr in ((load, complaint), (dump, dump_complaint)):
        if process.returncode not in (0, -9):
            raise ToolError(f"{variable}: {process.args[0]} failed: "
                            f"{_first_line(stderr, process.returncode, url)}")


def _finished(process: subprocess.Popen[bytes]) -> bytes:
    """What the process said on stderr, once it has exited."""
    assert process.stderr is not None
    complaint = process.stderr.read()
    process.wait(timeout=TOOL_TIMEOUT_S)
    return complaint


def _start(argv: list[str], env: dict[str, str], **pipes: int) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, **pipes)  # type: ignore[call-overload]
    except FileNotFoundError:
        raise ToolError(f"{argv[0]} is not installed (Debian package "
                        f"{PACKAGES.get(argv[0], argv[0])})") from None


def _sqlite_restore(source: Path, target: Path, variable: str) -> None:
    # Built beside the target, then renamed over it: a reader never sees half a file.
    partial = target.with_name(target.name + ".restoring")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise ToolError(f"{variable}: restoring into {str(target)!r} failed: {error}") from None


# -- running a tool --------------------------------------------------------------------------

def _run(argv: Sequence[str], url: URL | None, variable: str,
         stdin: object = None) -> str:
    """The tool's stdout; a ToolError with its first line of complaint otherwise."""
    env = {**os.environ, **(_password_environment(url) if url is not None else {})}
    try:
        result = subprocess.run(list(argv), env=env, stdin=stdin, capture_output=True,
                                timeout=TOOL_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise ToolError(f"{argv[0]} is not installed (Debian package "
                        f"{PACKAGES.get(argv[0], argv[0])})") from None
    if result.returncode != 0:
        raise ToolError(f"{variable}: {argv[0]} failed: "
                        f"{_first_line(result.stderr, result.returncode, url)}")
    return result.stdout.decode("utf-8", errors="replace")


def _first_line(stderr: bytes, status: int, url: URL | None) -> str:
    """A tool's first line of complaint, without the password should it echo it."""
    complaint = stderr.decode("utf-8", errors="replace").strip().splitlines()
    reason = complaint[0] if complaint else f"exit status {status}"
    if url is not None and url.password:
        reason = reason.replace(str(url.password), "***")
    return reason[:300]


def _password_environment(url: URL) -> dict[str, str]:
    if not url.password:
        return {}
    name = "PGPASSWORD" if url.get_backend_name() == "postgresql" else "MYSQL_PWD"
    return {name: str(url.password)}


def _pg_conninfo(url: URL) -> str:
    """libpq's keyword=value form of the URL, without the password. The URL's query (sslmode,
    sslrootcert...) is libpq's own keywords already, as psycopg2 hands them on."""
    words: dict[str, str] = {"host": url.host or "", "dbname": url.database or "",
                             "connect_timeout": CONNECT_TIMEOUT_S}
    if url.port:
        words["port"] = str(url.port)
    if url.username:
        words["user"] = url.username
    for key, value in url.query.items():
        words[key] = value if isinstance(value, str) else value[-1]
    return " ".join(f"{key}='{_pg_quoted(value)}'" for key, value in words.items())


def _pg_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# PyMySQL's TLS parameters in the URL, as the mariadb clients spell them.
MYSQL_TLS_OPTIONS = {"ssl_ca": "--ssl-ca", "ssl_cert": "--ssl-cert", "ssl_key": "--ssl-key"}


def _mysql_connection(url: URL) -> list[str]:
    """The client's options for the URL; no option file is read (--no-defaults, first)."""
    options = ["--no-defaults", f"--host={url.host}", f"--port={url.port or 3306}",
               f"--user={url.username or ''}",
               "--default-character-set=utf8mb4"]
    tls = [f"{option}={url.query[key]}" for key, option in MYSQL_TLS_OPTIONS.items()
           if isinstance(url.query.get(key), str)]
    # As PyMySQL does: TLS when the URL names its files, else none (mariadb 11's clients would
    # otherwise ask for it of every server).
    return options + (["--ssl", "--ssl-verify-server-cert", *tls] if tls else ["--skip-ssl"])
