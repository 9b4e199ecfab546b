"""``startup.sh db-restore [FILE]``: load a backup db-backup made into an empty database, then
migrate it to this release's schema.

The database is the server's, as for db-backup; the file is the argument, else
``PLACEDOCK_BACKUP_FILE``. Nothing is written unless the file is a complete backup of this
kind of database holding a placement schema, and the database holds no table at all. A backup
of an older release's schema is migrated after the restore (placement's migrations).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from placedock import PlacedockError, db_tools, environment
from placedock.prepare import command_status, log

CONNECTION = environment.CONNECTION


class RestoreError(PlacedockError):
    """What stops db-restore: one line naming the variable or file, never a password."""


def restore(environ: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    """Do it; return what was done, one phrase each."""
    from placedock import database  # half a second to import: only here

    url = environment.server_database_url(environ)
    source = db_tools.named_file(environ, argv, "db-restore")
    if not source.is_file():
        raise RestoreError(f"{str(source)!r}: no such file")
    revision = db_tools.checked_revision(source, url.get_backend_name())
    database.wait_for_server(url, environment.wait_timeout(environ), log, CONNECTION)
    tables = database.table_names(url)
    if tables:
        raise RestoreError(f"{CONNECTION}: database {database.masked(url)} is not empty "
                           f"({len(tables)} tables, {', '.join(tables[:3])}...); a restore "
                           "needs one without tables")
    db_tools.restore(url, source, CONNECTION)
    migrated = database.migrate(url, log)
    return [f"{source} (schema {revision}) into {database.masked(url)}", f"schema {migrated}"]


def main() -> int:
    return command_status("db-restore done", lambda: restore(os.environ, sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
