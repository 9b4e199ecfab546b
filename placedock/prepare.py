"""Everything startup.sh does before exec: check the environment, then ready the database.

The server (placedock.serve) calls prepare_server() in its own process, which applies the
checked environment to itself. For any other command, startup.sh runs ``python3 -m
placedock.prepare``: it checks the environment only and prints the same changes as shell
``export``/``unset`` lines for startup.sh to eval (resolved ``*_FILE`` secrets, defaults, a
corrected database URL). Progress goes to stderr, one line per step with its duration; a failure
is one line naming the variable at fault, and exit status 1.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from placedock import PlacedockError, addresses, early_stop, environment, logs


def log(message: str) -> None:
    print(logs.placedock_line(message), file=sys.stderr, flush=True)


@contextmanager
def step(done: str) -> Iterator[list[str]]:
    """Log ``done`` (plus any detail the step appends) with the step's duration."""
    started = time.monotonic()
    detail: list[str] = []
    yield detail
    suffix = f": {'; '.join(detail)}" if detail else ""
    log(f"{done}{suffix} ({time.monotonic() - started:.2f} s)")


def shell_lines(changes: Mapping[str, str | None]) -> str:
    lines = []
    for name, value in sorted(changes.items()):
        lines.append(f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}")
    return "\n".join(lines)


def checked_environment() -> environment.Environment:
    with step("environment checked") as detail:
        checked = environment.read(os.environ)
        detail.append(f"auth {checked.settings.auth_strategy}")
    for note in checked.notes:
        log(f"warning: {note}")
    return checked


def prepare_server() -> environment.Settings:
    """Check the environment and apply it to this process, which becomes uwsgi (its ini and
    placement read it), then ready the database."""
    checked = checked_environment()
    environment.apply(checked, os.environ)
    settings = checked.settings
    from placedock import front

    # Before the database's wait: a missing front or a taken port is known at once.
    front.nginx_binary()
    front.check_port(settings.address, settings.port)
    # Imported only here: placement's database modules cost half a second to import.
    from placedock import database

    with step(f"database {database.masked(settings.database_url)} reachable"):
        database.wait(settings.database_url, settings.db_wait_timeout, log)
    if settings.db_sync:
        with early_stop.deferred(), step("database schema") as detail:
            detail.append(database.migrate(settings.database_url, log))
    else:
        with step("database schema at head") as detail:
            detail.append(database.check_at_head(settings.database_url))
    log(f"serving on port {settings.port} at {addresses.bracketed(settings.address)} with "
        f"{settings.processes} processes "
        f"x {settings.threads} thread{'' if settings.threads == 1 else 's'}, behind nginx "
        f"(bodies up to {settings.max_body_size} bytes, requests up to "
        f"{settings.request_timeout} s)")
    return settings


def command_shell_lines() -> str:
    """For ``startup.sh COMMAND``: the same changes apply() makes, as lines for the shell that
    execs the command to eval."""
    return shell_lines(environment.exports(checked_environment()))


def one_line_errors(action: Callable[[], object]) -> int:
    """A command's exit status: 0 once ``action`` is done; for a PlacedockError, its one line on
    stderr and 1 (no traceback)."""
    try:
        action()
    except PlacedockError as error:
        log(f"error: {error}")
        return 1
    return 0


def command_status(done: str, action: Callable[[], list[str]]) -> int:
    """A one-shot command's exit status: 0 and one line, ``done`` with what ``action`` did and
    how long it took; or its one-line error and 1 (one_line_errors)."""
    def run() -> None:
        with step(done) as detail:
            detail += action()

    return one_line_errors(run)


def main() -> int:
    return one_line_errors(lambda: print(command_shell_lines()))


if __name__ == "__main__":
    sys.exit(main())
