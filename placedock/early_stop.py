"""A stop asked for before uwsgi serves: honour it at once, except in the middle of a migration.

In a container the server is PID 1, and the kernel drops any signal PID 1 has no handler for:
until uwsgi installs its own, a ``docker stop`` (or Kubernetes' SIGTERM) during the checks and
the migration was ignored, the container went on to serve, and the engine's SIGKILL ten seconds
later cut the requests it was answering by then. Nothing is served before uwsgi runs, so
stopping there loses nothing; a migration is finished first (MySQL's DDL is not transactional:
a schema cut half-way is a schema no release knows).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(Exception):
    """Raised where the main thread is when a stop signal arrives before uwsgi serves."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)


def _raise_stop(signum: int, frame: object) -> None:
    raise StopRequested(signum)


def install() -> None:
    """From now until uwsgi replaces these handlers, a stop signal raises StopRequested."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold stop signals back while the block runs; one that came meanwhile is raised after."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
