"""startup.sh end to end on the embedded sqlite: a real uwsgi serving real placement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.error_schema import checked_error
from tests.support.http import get
from tests.support.load import Load
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.server import QUICK_START, REPO, Server, base_environment, run_startup


def gabbi(url: str, ca_file: str | None = None) -> subprocess.CompletedProcess[str]:
    """gabbi-run over gabbi.yaml; over HTTPS the server's certificate is checked against
    ``ca_file`` (httpx, gabbi's client, reads SSL_CERT_FILE)."""
    gabbi_run = str(Path(sys.executable).parent / "gabbi-run")
    trust = {"SSL_CERT_FILE": ca_file} if ca_file else {}
    return subprocess.run([gabbi_run, url, "--", str(REPO / "gabbi.yaml")], capture_output=True,
                          text=True, timeout=300, check=False, env={**os.environ, **trust})


def test_gabbi_tour_passes_twice_at_root_and_under_prefix(server: Server) -> None:
    for url in (server.url, server.url + "/placement"):
        result = gabbi(url)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_log_has_each_step_with_its_duration(server: Server) -> None:
    log = server.log()
    for step in ("environment checked", "database sqlite:///", "database schema: migrated"):
        lines = [line for line in log.splitlines() if line.startswith(f"placedock: {step}")]
        assert len(lines) == 1, log
        assert lines[0].endswith(" s)"), lines[0]


def test_api_served_at_root_and_under_placement(server: Server) -> None:
    for prefix in ("", "/placement"):
        status, body = get(server.url + prefix + "/")
        assert status == 200 and json.loads(body)["versions"][0]["max_version"] == "1.39"
        status, body = get(server.url + prefix + "/resource_providers")
        assert status == 200 and "resource_providers" in json.loads(body)


def test_uwsgi_is_the_process_started_and_workers_are_forked(server: Server) -> None:
    cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert b"placedock.serve" in cmdline  # bash exec'd python, which became uwsgi: same PID
    assert len(server.worker_pids()) == int(server.env.get("PLACEDOCK_PROCESSES", "2"))
    # and the stop's mule, the metrics' mule and the front (nginx's master)
    others = set(server.children()) - set(server.worker_pids())
    names = sorted(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
                   for pid in others)
    assert len(names) == 3 and names[0].startswith("nginx: master process"), names


def test_health_probes_against_the_real_server(server: Server) -> None:
    env = {**base_environment(), "PYTHONPATH": str(REPO), "PLACEDOCK_PORT": str(server.port)}
    for probe in ("ready", "live"):
        result = subprocess.run([sys.executable, "-m", "placedock.health", probe], env=env,
                                capture_output=True, text=True, timeout=20, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"placedock: {probe}: ok"


def test_liveness_stays_ok_while_every_worker_is_busy(tmp_path: Path) -> None:
    running = Server(tmp_path, free_port(), {**QUICK_START, "PLACEDOCK_PROCESSES": "1",
                                             "PLACEDOCK_THREADS": "1",
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    running.start().wait_ready()
    env = {**base_environment(), "PYTHONPATH": str(REPO), "PLACEDOCK_PORT": str(running.port)}
    try:
        with Load(running.url + "/allocation_candidates?resources=VCPU:1", clients=6,
                  max_seconds=20):
            time.sleep(1)
            live = subprocess.run([sys.executable, "-m", "placedock.health", "live"], env=env,
                                  capture_output=True, text=True, timeout=20, check=False)
        assert live.returncode == 0, live.stderr
    finally:
        running.stop()


def test_readiness_fails_when_the_schema_is_gone(server: Server, tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "placement.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = 'b4ed3a175331'")
    status, body = get(server.url + "/health/ready", token=None)
    assert status == 503
    assert "placement needs" in checked_error(body, 503)["detail"]


def refused(url: str) -> bool:
    try:
        get(url, timeout=2)
    except OSError:
        return True
    return False


def ready_probe(port: int, address: str) -> subprocess.CompletedProcess[str]:
    env = {**base_environment(), "PYTHONPATH": str(REPO), "PLACEDOCK_PORT": str(port),
           "PLACEDOCK_ADDRESS": address}
    return subprocess.run([sys.executable, "-m", "placedock.health", "ready"], env=env,
                          capture_output=True, text=True, timeout=20, check=False)


def ipv4_reaches(address: str) -> bool:
    """Whether a server bound to the IPv6 ``address`` takes IPv4 too: only ``::``, and only
    while the kernel lets it (net.ipv6.bindv6only, default 0)."""
    return address == "::" and (
        Path("/proc/sys/net/ipv6/bindv6only").read_text().strip() == "0")


@pytest.mark.parametrize("address", ["::1", "::"], ids=["ipv6-loopback", "ipv6-everywhere"])
def test_serves_on_an_ipv6_address(tmp_path: Path, address: str) -> None:
    """Reached on [::1] either way; on 127.0.0.1 only as ipv4_reaches() says; the ready probe
    asks where the server is."""
    port = free_port()
    running = Server(tmp_path, port, {**QUICK_START, "PLACEDOCK_ADDRESS": address,
                                      "PLACEDOCK_DATA_DIR": str(tmp_path / "data")}, host="::1")
    try:
        running.start().wait_ready()
        assert get(f"http://[::1]:{port}/")[0] == 200
        if ipv4_reaches(address):
            assert get(f"http://127.0.0.1:{port}/")[0] == 200
        else:
            assert refused(f"http://127.0.0.1:{port}/")
        probe = ready_probe(port, address)
        assert probe.returncode == 0, probe.stderr
    finally:
        running.stop()
    assert f"serving on port {port} at [{address}] with" in running.log()


def test_command_runs_with_the_same_environment(tmp_path: Path, server: Server) -> None:
    env = {**QUICK_START, "PLACEDOCK_DATA_DIR": str(tmp_path / "data")}
    result = run_startup(["placement-manage", "db", "version"], env)
    assert result.returncode == 0, result.stderr
    from placedock import database

    assert result.stdout.strip() == database.head()


def test_secret_from_file_reaches_placement(tmp_path: Path) -> None:
    secret = tmp_path / "connection"
    secret.write_text(f"sqlite:///{tmp_path}/from-file.sqlite\n")
    running = Server(tmp_path, free_port(),
                     {**QUICK_START, "OS_PLACEMENT_DATABASE__CONNECTION_FILE": str(secret)})
    running.start().wait_ready()
    running.stop()
    assert (tmp_path / "from-file.sqlite").stat().st_size > 0


def stop_under_load(server: Server, path: str = "/resource_providers") -> Load:
    """SIGTERM while 6 clients loop; every request must end in a 2xx or a refused connection,
    but for a connection reset unread in the instant the front closes (Load.stopped_cleanly).
    Returns the load with its counted outcomes."""
    before = len(server.log())
    with Load(server.url + path, clients=6) as load:
        load.wait_for("200", 50)
        server.signal(signal.SIGTERM)
        started = time.monotonic()
        code = server.wait(timeout=15)
        took = time.monotonic() - started
        load.wait_for("refused", 6)  # every client has seen the socket closed
    log = server.log()[before:]
    print(f"SIGTERM under load ({path}): exit in {took:.2f} s, outcomes {dict(load.outcomes)}, "
          f"connections reset unread: {len(load.unread_resets())}")
    assert code == 0, log[-2000:]
    assert took < 10, f"exit took {took:.1f} s"
    assert "refused" in load.outcomes and load.stopped_cleanly(log) is None, \
        load.stopped_cleanly(log)
    assert "MERCY" not in log and "killed" not in log.lower(), "a worker was cut short"
    assert "placedock: stopping: the front (nginx, pid" in log, log[-2000:]
    return load


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.parametrize("shape", ["1x1", "2x2", "2x4"])
def test_sigterm_under_load_refuses_new_connections_and_answers_the_rest(
        tmp_path: Path, shape: str, trial: int) -> None:
    processes, threads = shape.split("x")
    running = Server(tmp_path, free_port(), {**QUICK_START, "PLACEDOCK_PROCESSES": processes,
                                             "PLACEDOCK_THREADS": threads,
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    try:
        running.start().wait_ready()
        # Requests that read the database on two trials of three, GET / on the first.
        stop_under_load(running, "/resource_providers" if trial else "/")
    finally:
        running.stop()


def wait_respawned(server: Server, victim: int) -> None:
    """Until the master has replaced the killed worker ``victim`` (2 workers again)."""
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) >= 2,
               timeout=10, interval=0.1, what=f"worker {victim} respawned")


def test_a_stop_after_a_worker_was_replaced_still_loses_nothing(server: Server) -> None:
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_respawned(server, victim)
    assert get(server.url + "/")[0] == 200  # the replaced worker left the socket accepting
    stop_under_load(server)


def test_killing_a_worker_under_load_keeps_serving(server: Server) -> None:
    with Load(server.url + "/resource_providers", clients=4) as load:
        load.wait_for("200", 30)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        served = load.count("200")
        load.wait_for("200", served + 100)
    assert server.running
    wait_respawned(server, victim)
    print(f"kill -9 of worker {victim}: outcomes {dict(load.outcomes)}")


def test_a_stop_while_waiting_for_the_database_ends_at_once_without_serving(
        tmp_path: Path) -> None:
    """SIGTERM before uwsgi runs (here: the database is not there yet) ends the start, status 0:
    nothing is served yet, so nothing can be lost (placedock.early_stop)."""
    nowhere = f"postgresql+psycopg2://placement:pw@127.0.0.1:{free_port()}/placement"
    running = Server(tmp_path, free_port(), {**QUICK_START, "DB_WAIT_TIMEOUT": "120",
                                             "OS_PLACEMENT_DATABASE__CONNECTION": nowhere})
    try:
        running.start()
        wait_until(lambda: "waiting for database" in running.log(), timeout=60,
                   what="a wait for the database")
        running.signal(signal.SIGTERM)
        status = running.wait(30)
    finally:
        running.stop()
    log = running.log()
    assert status == 0 and "placedock: stopped by SIGTERM before serving" in log, log
    assert "Traceback" not in log and "uWSGI" not in log, log
