"""The WSGI application uwsgi serves: placement, inside placedock's middleware.

uwsgi imports this once, in the master, before forking the workers (no lazy-apps): the workers
share the loaded code, and no database connection is left open to be shared by them. The stop
handler (placedock.drain) is registered here too, so that every worker inherits it. Last, every
object loaded so far is frozen out of the garbage collector (see the end of this module).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from placement import db_api
from placement.wsgi import init_application
from sqlalchemy.engine import Engine

from placedock import database, drain, logs, metrics, middleware, routes


def _readiness() -> str | None:
    return database.readiness(db_api.get_placement_engine(), HEAD)


def _recorders() -> list[middleware.Recorder]:
    """Metrics (PLACEDOCK_METRICS_PORT not 0) and JSON request lines: each only when asked for,
    so that neither costs anything otherwise."""
    recorders: list[middleware.Recorder] = []
    if metrics.port():
        recorders.append(metrics.RequestMetrics())
    if logs.is_json():
        recorders.append(logs.RequestLines())
    return recorders


def _database_metrics(engine: Engine) -> Callable[[str], None] | None:
    if not metrics.port():
        return None
    database_metrics = metrics.DatabaseMetrics()
    database_metrics.watch(engine)
    return database_metrics.error


def load() -> middleware.App:
    if logs.is_json():
        logs.python_lines_to_original_stdout()
    app = init_application()
    engine = db_api.get_placement_engine()
    # On sqlite, every transaction takes the write lock at BEGIN (why: the function's comment).
    database.serialise_sqlite_transactions(engine)
    # Loading ran queries (trait and resource class sync): close them before the fork.
    engine.dispose()
    outages = database.OutageWatch(engine, on_error=_database_metrics(engine))
    return middleware.wrap(app, _readiness, outages, routes.placement_routes().name,
                           _recorders())


HEAD = database.head()
application = load()
drain.install()
if metrics.port():
    metrics.prepare_mule()
# The loaded modules' objects live for ever: out of the collector's sight, a full collection in
# a worker no longer walks (and writes the header of) every one of them. Each write copied a
# page the workers shared with the master: under allocation-candidates load the total PSS of
# 2 x 2 fell from 215 to 150-160 MB, and each request's CPU by about a fifth
# (docs/performance.md, "Benchmark").
gc.freeze()
