"""``startup.sh db-migrate-data``: placement's online data migrations, run to completion in
batches, then placement's own upgrade check. The step of an upgrade after every placedock runs
the new release (docs/operations.md, "Data migrations in an upgrade").

It takes the server's whole environment, checked as the server's (placement-manage and
placement-status read placement's options from it), and ``PLACEDOCK_MIGRATION_BATCH_SIZE``, the
rows each batch may change (placement-manage's ``--max-count``), which it reads itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from placedock import PlacedockError, environment
from placedock.prepare import command_status, log

BATCH_SIZE = "PLACEDOCK_MIGRATION_BATCH_SIZE"
DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 1_000_000
# placement-manage's answers with --max-count: 0 nothing left, 1 a batch done and maybe more,
# 2 only failures, 127 bad input.
DONE, MORE = 0, 1
# A bound on batches, against a migration that reports progress forever.
MAX_BATCHES = 100_000
TIMEOUT_S = 3600


class MigrateDataError(PlacedockError):
    """What stops db-migrate-data: one line, never a password."""


def batch_size(environ: Mapping[str, str]) -> int:
    value = environ.get(BATCH_SIZE, str(DEFAULT_BATCH_SIZE))
    try:
        size = int(value)
    except ValueError:
        raise MigrateDataError(f"{BATCH_SIZE}: {value!r} is not a whole number") from None
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise MigrateDataError(f"{BATCH_SIZE}: {size} is out of range 1 to {MAX_BATCH_SIZE}")
    return size


def placement_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's environment as the server would run with it, less the batch size."""
    own = {name: value for name, value in environ.items() if name != BATCH_SIZE}
    checked = environment.read(own)
    for note in checked.notes:
        log(f"warning: {note}")
    environment.apply(checked, own)
    return own


def migrate_data(environ: Mapping[str, str]) -> list[str]:
    """Run the batches until none is left, then the upgrade check; what was done."""
    size = batch_size(environ)
    env = placement_environment(environ)
    url = environment.server_database_url(env)
    from placedock import database  # half a second to import: only here

    database.wait_for_server(url, environment.wait_timeout(env), log, environment.CONNECTION)
    password = url.password
    batches = 0
    while True:
        batches += 1
        answer = _run(["placement-manage", "db", "online_data_migrations",
                       f"--max-count={size}"], env)
        if answer.returncode == DONE:
            break
        if answer.returncode != MORE or batches >= MAX_BATCHES:
            raise MigrateDataError(
                f"placement-manage db online_data_migrations failed (exit status "
                f"{answer.returncode} after {batches} batches): {_last_line(answer, password)}")
    check = _run(["placement-status", "upgrade", "check"], env)
    if check.returncode != 0:
        raise MigrateDataError(f"placement-status upgrade check: exit status {check.returncode}"
                               f" ({_last_line(check, password)})")
    return [f"{batches} batches of up to {size} rows", "placement-status upgrade check passed"]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    except FileNotFoundError:
        raise MigrateDataError(f"{argv[0]} is not installed (placement's own command)") from None


def _last_line(result: subprocess.CompletedProcess[str], password: str | None) -> str:
    """The command's last words, without the database's password should a driver echo it."""
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()
             if line.strip() and not set(line.strip()) <= set("+-|")
             and not line.startswith("(Background on this error")]  # SQLAlchemy's link
    last = lines[-1][:300] if lines else "no output"
    return last.replace(password, "***") if password else last


def main() -> int:
    return command_status("db-migrate-data done", lambda: migrate_data(os.environ))


if __name__ == "__main__":
    sys.exit(main())
