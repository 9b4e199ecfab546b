"""placedock.database on real sqlite files (the PostgreSQL and MariaDB paths are exercised end to
end in tests/test_databases.py and tests/test_outage.py)."""

from __future__ import annotations

import threading

import sqlalchemy as sa

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
