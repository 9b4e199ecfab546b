"""placedock.metrics: counts that add up across processes, dead workers forgotten, database
errors by kind, and the state collected at a scrape. prometheus_client reads its multiprocess
folder when first imported, so the counting runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from placedock import metrics
from tests.support.server import REPO


def run_python(code: str, tmp_path: Path) -> str:
    folder = tmp_path / "metrics"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        env={**os.environ, metrics.DIRECTORY_VARIABLE: str(folder), "PYTHONPATH": str(REPO)},
        timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_requests_counted_by_two_processes_add_up(tmp_path: Path) -> None:
    out = run_python("""
        import os
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess
        from placedock import metrics
        recorder = metrics.RequestMetrics()
        for _ in range(3):
            recorder.started()
            recorder.finished("GET", "/", "200", 0.002, "req-a")
        if os.fork() == 0:  # a second worker, as uwsgi forks them
            recorder.started()
            recorder.finished("GET", "/", "200", 2.0, "req-b")
            recorder.started()
            recorder.finished("BREW", "/traits/{name}", "404", 0.02, "req-c")
            os._exit(0)
        os.wait()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        print(generate_latest(registry).decode())
    """, tmp_path)
    assert 'placedock_http_requests_total{method="GET",route="/",status="200"} 4.0' in out
    assert ('placedock_http_requests_total{method="OTHER",route="/traits/{name}",status="404"}'
            ' 1.0') in out
    assert ('placedock_http_request_duration_seconds_bucket{le="0.0025",method="GET",route="/"}'
            ' 3.0') in out
    assert ('placedock_http_request_duration_seconds_bucket{le="2.5",method="GET",route="/"}'
            ' 4.0') in out
    assert "placedock_http_requests_in_flight 0.0" in out


def test_a_worker_that_died_mid_request_is_forgotten(tmp_path: Path) -> None:
    out = run_python("""
        import os, signal
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess
        from placedock import metrics
        recorder = metrics.RequestMetrics()
        pid = os.fork()
        if pid == 0:
            recorder.started()  # and never finished: killed
            os._exit(0)
        os.waitpid(pid, 0)
        folder = os.environ[metrics.DIRECTORY_VARIABLE]
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        before = generate_latest(registry).decode()
        metrics.forget_dead_processes(folder)
        after = generate_latest(registry).decode()
        print("before", [l for l in before.splitlines()
                         if l.startswith("placedock_http_requests_in")])
        print("after", [l for l in after.splitlines()
                        if l.startswith("placedock_http_requests_in")])
    """, tmp_path)
    assert "before ['placedock_http_requests_in_flight 1.0']" in out
    assert "after ['placedock_http_requests_in_flight 0.0']" in out or "after []" in out


def test_database_errors_by_kind_and_connections_in_use(tmp_path: Path) -> None:
    out = run_python(f"""
        import sqlalchemy as sa
        from prometheus_client import REGISTRY, generate_latest
        from placedock import database, metrics
        broken = sa.create_engine("sqlite:///{tmp_path}/no/such/folder/db.sqlite")
        engine = sa.create_engine("sqlite:///{tmp_path}/db.sqlite")
        watch = metrics.DatabaseMetrics()
        for each in (broken, engine):
            watch.watch(each)
            database.OutageWatch(each, on_error=watch.error)
        try:
            broken.connect()
        except sa.exc.OperationalError:
            pass
        with engine.connect() as connection:
            print("in use while connected", watch.in_use._value.get())
            try:
                connection.execute(sa.text("SELECT * FROM no_such_table"))
            except sa.exc.OperationalError:
                pass
        print(generate_latest(REGISTRY).decode())
    """, tmp_path)
    assert "in use while connected 1.0" in out
    assert 'placedock_database_errors_total{kind="connect"} 1.0' in out
    assert 'placedock_database_errors_total{kind="OperationalError"} 1.0' in out
    assert "placedock_database_connections_in_use 0.0" in out


def test_the_state_at_a_scrape() -> None:
    stats = {"listen_queue": 3, "listen_queue_errors": 1, "workers": [
        {"pid": 10, "status": "busy"}, {"pid": 11, "status": "busy"},
        {"pid": 12, "status": "idle"}, {"pid": 0, "status": "idle"},  # not running
        {"pid": 13, "status": "sig"}]}
    state = metrics.ServerState(lambda: stats, lambda: ("a082b8bb98d0", None), "abc123")
    families = {family.name: family for family in state.collect()}
    value = {name: [(s.labels, s.value) for s in family.samples]
             for name, family in families.items()}
    assert value["placedock_uwsgi_listen_queue"] == [({}, 3)]
    assert value["placedock_uwsgi_listen_queue_errors"] == [({}, 1)]
    assert sorted(value["placedock_uwsgi_workers"], key=str) == sorted(
        [({"state": "busy"}, 2), ({"state": "idle"}, 1), ({"state": "other"}, 1)], key=str)
    assert value["placedock_ready"] == [({}, 1)]
    [(labels, one)] = value["placedock"]
    assert one == 1 and labels["schema_revision"] == "a082b8bb98d0"
    assert labels["placedock_revision"] == "abc123" and labels["placement_version"]


def test_a_scrape_without_uwsgi_or_database_still_answers() -> None:
    state = metrics.ServerState(lambda: "uwsgi master does not answer", lambda: (None, "down"),
                                "unknown")
    families = {family.name: family for family in state.collect()}
    assert "placedock_uwsgi_workers" not in families
    ready = families["placedock_ready"]
    assert isinstance(ready, GaugeMetricFamily) and ready.samples[0].value == 0
    assert families["placedock"].samples[0].labels["schema_revision"] == "none"
