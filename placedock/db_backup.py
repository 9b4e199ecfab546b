"""``startup.sh db-backup [FILE]``: back placement's database up with the database's own tool.

The database is the server's (``OS_PLACEMENT_DATABASE__CONNECTION`` or its ``_FILE``, else the
embedded sqlite under ``PLACEDOCK_DATA_DIR``); the file is the argument, else
``PLACEDOCK_BACKUP_FILE``. A folder gets a new file named after the time (a nightly job's). The
backup is written beside its name, checked as a restore would check it (complete, readable, a
placement schema), and only then given its name: a file of that name is always whole. Safe
while placement serves: sqlite's online backup, pg_dump's and mariadb-dump's one transaction.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from placedock import PlacedockError, db_tools, environment
from placedock.prepare import command_status, log

CONNECTION = environment.CONNECTION


class BackupError(PlacedockError):
    """What stops db-backup: one line naming the variable or file, never a password."""


def destination(given: Path, backend: str) -> Path:
    """A new file: ``given``, or a time-stamped one in it when it is a folder."""
    path = given
    if given.is_dir():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = given / f"placement-{stamp}.{db_tools.SUFFIXES[backend]}"
    if path.exists():
        raise BackupError(f"{str(path)!r}: already there; a backup never overwrites a file")
    if not path.parent.is_dir():
        raise BackupError(f"{str(path)!r}: no folder {str(path.parent)!r} to write it in")
    return path


def back_up(environ: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    """Do it; return what was done, one phrase each."""
    from placedock import database  # half a second to import: only here

    url = environment.server_database_url(environ)
    backend = url.get_backend_name()
    path = destination(db_tools.named_file(environ, argv, "db-backup"), backend)
    database.wait_for_server(url, environment.wait_timeout(environ), log, CONNECTION)
    partial = path.with_name(path.name + ".partial")
    started = time.monotonic()
    try:
        db_tools.backup(url, partial, CONNECTION)
        revision = db_tools.checked_revision(partial, backend)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return [f"{database.masked(url)} to {path}", f"schema {revision}",
            f"{path.stat().st_size} bytes in {time.monotonic() - started:.1f} s"]


def main() -> int:
    return command_status("db-backup done", lambda: back_up(os.environ, sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
