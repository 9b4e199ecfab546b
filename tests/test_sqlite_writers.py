"""Concurrent writers on the embedded sqlite, as the README's quick start runs it (default 2
processes x 1 thread, noauth2), and with 2 threads per process: no request may fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.load import SharedProviderWrites, WriterLoad
from tests.support.network import free_port
from tests.support.server import QUICK_START, Server

CLIENTS = 8
SECONDS = 10
# Far below what was measured (33 to 46 cycles in 10 s on 2 busy cores, README "Concurrent
# writers on sqlite"); it catches writers that stall, not a slow machine.
MIN_CYCLES = 10


# Three trials: two on the defaults, one with threads writing beside each other in a process.
@pytest.mark.parametrize("threads", [None, None, "2"], ids=["defaults-1", "defaults-2", "2x2"])
def test_eight_writers_for_ten_seconds_get_no_error(tmp_path: Path, threads: str | None) -> None:
    shape = {"PLACEDOCK_THREADS": threads} if threads else {}
    running = Server(tmp_path, free_port(), {**QUICK_START, **shape,
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    try:
        running.start().wait_ready()
        load = WriterLoad(running.url, clients=CLIENTS, max_seconds=SECONDS).run()
    finally:
        running.stop()
    print(f"sqlite writers: {load.summary()}")
    assert load.errors == [], (load.summary(), load.errors[:5])
    assert load.cycles >= MIN_CYCLES, load.summary()
    assert "database is locked" not in running.log()


# Every kind of write placement has, on the same two providers from every client: generation
# conflicts on purpose. placement retries some itself (allocations, the reshaper) after reading
# again on a second connection inside its write: the path that stalled for 30 s on sqlite.
SHARED_CLIENTS, SHARED_SECONDS = 8, 10
SHARED_SLOWEST_ALLOWED_S = 5


def test_every_kind_of_write_on_shared_providers_never_fails_or_stalls(tmp_path: Path) -> None:
    running = Server(tmp_path, free_port(), {**QUICK_START,
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    try:
        running.start().wait_ready()
        race = SharedProviderWrites(running.url, SHARED_CLIENTS, SHARED_SECONDS).run()
        kept = race.allocations_kept()
    finally:
        running.stop()
    print(f"sqlite shared-provider writes, {SHARED_CLIENTS} clients: {dict(race.outcomes)}; "
          f"slowest {race.slowest:.2f} s; acknowledged allocations present "
          f"{kept}/{len(race.acknowledged)}")
    assert race.failures == [], race.failures[:5]
    assert set(race.outcomes) <= {"200", "204", "409"}, dict(race.outcomes)
    for kind in SharedProviderWrites.KINDS:
        assert race.outcomes_by_kind[kind]["2xx"] > 0, (kind, race.outcomes_by_kind)
    assert race.slowest < SHARED_SLOWEST_ALLOWED_S
    assert kept == len(race.acknowledged)
    assert "database is locked" not in running.log()
